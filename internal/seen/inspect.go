package seen

import (
	"fmt"
	"sort"
	"time"
)

// RuleStats describes one rule's state.
type RuleStats struct {
	Key, Name          string
	Window             time.Duration
	Tuples             int
	Earliest, Newest   time.Time // event times the rule has seen
	Covered            bool      // the state spans a whole window: the rule alerts
	OldestSeen, Latest time.Time // oldest first_seen, newest last_seen among tuples
}

// Stats describes every rule's state, by rule name.
func (s *State) Stats() ([]RuleStats, error) {
	s.mu.Lock()
	recs := make(map[uint64]ruleRecord, len(s.rules))
	for rh, r := range s.rules {
		recs[rh] = *r
	}
	s.mu.Unlock()
	var out []RuleStats
	for rh, r := range recs {
		st := RuleStats{Key: r.key, Name: r.name, Window: time.Duration(r.window) * time.Millisecond,
			Earliest: msTime(r.earliest), Newest: msTime(r.highWater), Covered: r.highWater-r.earliest >= r.window}
		err := s.scanAny(tuplePrefix(rh), func(_, v []byte) bool {
			first, last, err := decodeTimes(v)
			if err != nil {
				return true
			}
			if st.Tuples == 0 || msTime(first).Before(st.OldestSeen) {
				st.OldestSeen = msTime(first)
			}
			if msTime(last).After(st.Latest) {
				st.Latest = msTime(last)
			}
			st.Tuples++
			return true
		})
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Name < out[j].Name || out[i].Name == out[j].Name && out[i].Key < out[j].Key
	})
	return out, nil
}

// Tuple is one stored tuple, for people.
type Tuple struct {
	Values       []string
	FirstSeen    time.Time
	LastSeen     time.Time
	FirstEventID string
}

// List calls fn with each tuple of the rule whose key (or key prefix, or
// name) is given, in storage order.
func (s *State) List(rule string, fn func(Tuple) bool) error {
	s.mu.Lock()
	var rh uint64
	found := 0
	for h, r := range s.rules {
		if r.key == rule || r.name == rule || len(rule) >= 8 && len(r.key) >= len(rule) && r.key[:len(rule)] == rule {
			rh = h
			found++
		}
	}
	s.mu.Unlock()
	switch found {
	case 0:
		return fmt.Errorf("state: no rule %q", rule)
	case 1:
	default:
		return fmt.Errorf("state: %q names %d rules: give the full rule key", rule, found)
	}
	var derr error
	err := s.scanAny(tuplePrefix(rh), func(_, v []byte) bool {
		e, err := decodeEntry(v)
		if err != nil {
			derr = err
			return false
		}
		return fn(Tuple{Values: e.tuple, FirstSeen: msTime(e.first), LastSeen: msTime(e.last), FirstEventID: e.eventID})
	})
	if err == nil {
		err = derr
	}
	return err
}

func msTime(ms int64) time.Time {
	if ms == noTime {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
