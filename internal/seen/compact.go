package seen

import (
	"errors"
	"time"
)

// compactChunk bounds the deletes made under the batch lock at a time, so
// that expiry never holds up a flush for long.
const compactChunk = 1024

// Compact deletes the tuples idle longer than their rule's window, relative
// to the rule's high-water event time, and returns how many it deleted.
func (s *State) Compact() (int, error) { return s.compact(nil) }

// errStopped ends a background compaction at Close: a scan of millions of
// tuples must not hold up the exit.
var errStopped = errors.New("stopped")

func (s *State) compact(stop <-chan struct{}) (int, error) {
	s.mu.Lock()
	type ruleExpiry struct {
		rh             uint64
		before, window int64
	}
	var todo []ruleExpiry
	for rh, rec := range s.rules {
		if rec.highWater != noTime {
			// Held and on-time events lie at most MaxLateness before the
			// high-water: a tuple they could find known stays.
			todo = append(todo, ruleExpiry{rh, rec.highWater - rec.window - s.opts.MaxLateness.Milliseconds(), rec.window})
		}
	}
	s.mu.Unlock()

	removed := 0
	for _, r := range todo {
		var expired [][]byte
		stopped := false
		err := s.scanAny(tuplePrefix(r.rh), func(k, v []byte) bool {
			if _, last, err := decodeTimes(v); err == nil && last < r.before {
				expired = append(expired, append([]byte(nil), k...))
			}
			select {
			case <-stop:
				stopped = true
				return false
			default:
				return true
			}
		})
		if err == nil && stopped {
			err = errStopped
		}
		if err != nil {
			return removed, err
		}
		for len(expired) > 0 {
			n := min(len(expired), compactChunk)
			done, err := s.expire(expired[:n], r.before)
			removed += done
			if err != nil {
				return removed, err
			}
			expired = expired[n:]
		}
	}
	return removed, nil
}

// expire deletes the keys still expired once the batch lock is held: a
// batch may have refreshed one since the scan.
func (s *State) expire(keys [][]byte, before int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shared != nil {
		// Another node may refresh a tuple at any time: the server deletes
		// only what is still expired when the commit runs.
		c := &Commit{}
		for _, k := range keys {
			c.Expire = append(c.Expire, Expire{Key: k, Before: before})
		}
		done, err := s.shared.Commit(c)
		if err != nil {
			return 0, err
		}
		s.forget(keys)
		return done.Expired, nil
	}
	var w Writes
	for _, k := range keys {
		v, found, err := s.store.Get(k)
		if err != nil {
			return 0, err
		}
		if _, last, err := decodeTimes(v); found && err == nil && last < before {
			w.Delete(k)
		}
	}
	if w.Len() == 0 {
		return 0, nil
	}
	if err := s.store.Apply(&w); err != nil {
		return 0, err
	}
	s.forget(w.deletes)
	return w.Len(), nil
}

func (s *State) compactLoop() {
	defer close(s.done)
	t := time.NewTicker(s.opts.CompactInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			start := time.Now()
			n, err := s.compact(s.stop)
			if errors.Is(err, errStopped) {
				return
			}
			if err != nil {
				s.opts.Log.Warnf("state compaction failed, tried again in %s: %v", s.opts.CompactInterval, err)
			} else if n > 0 {
				s.opts.Log.Infof("state compaction removed %d expired tuples in %s", n, time.Since(start).Round(time.Millisecond))
			}
		}
	}
}
