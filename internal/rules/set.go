package rules

import (
	"fmt"
	"slices"

	"github.com/newterms/newterms/internal/kql"
)

// Set is a compiled collection of rules, indexed so that an event is
// tested only against the rules that can match it. It is immutable once
// built and safe for concurrent use; each goroutine uses its own Doc.
type Set struct {
	rules []*Rule
	reg   *registry
	// Rules whose query requires one of some exact event.action values are
	// filed under them; failing that under event.provider; the rest are
	// tested on every event.
	byAction   map[string][]*Rule
	byProvider map[string][]*Rule
	always     []*Rule
	actionID   int
	providerID int
}

// indexFields are tried in order to file a rule.
const (
	fieldAction   = "event.action"
	fieldProvider = "event.provider"
)

// NewSet compiles rules into a set. Rules are given as parsed; their
// queries are compiled here against the set's field registry. A duplicate
// rule_id is an error.
func NewSet(rs []*Rule) (*Set, error) {
	s := &Set{reg: newRegistry(), byAction: map[string][]*Rule{}, byProvider: map[string][]*Rule{}}
	s.actionID, _, _ = s.reg.resolve(fieldAction)
	s.providerID, _, _ = s.reg.resolve(fieldProvider)
	seen := map[string]string{}
	for _, r := range rs {
		if where, dup := seen[r.ID]; dup {
			return nil, fmt.Errorf("rule_id %s of %q is also the rule_id of %s", r.ID, r.Name, where)
		}
		seen[r.ID] = fmt.Sprintf("%q (%s)", r.Name, r.File)
		if err := s.add(r); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Set) add(r *Rule) error {
	q, err := kql.Compile(r.Query, s.reg.resolve)
	if err != nil {
		return err
	}
	r.query = q
	r.fieldIDs = r.fieldIDs[:0]
	for _, f := range r.Fields {
		id, _, _ := s.reg.resolve(f)
		r.fieldIDs = append(r.fieldIDs, id)
	}
	s.rules = append(s.rules, r)
	if vals, ok := q.Required(fieldAction); ok {
		for _, v := range dedupe(vals) {
			s.byAction[v] = append(s.byAction[v], r)
		}
	} else if vals, ok := q.Required(fieldProvider); ok {
		for _, v := range dedupe(vals) {
			s.byProvider[v] = append(s.byProvider[v], r)
		}
	} else {
		s.always = append(s.always, r)
	}
	return nil
}

func dedupe(v []string) []string {
	v = slices.Clone(v)
	slices.Sort(v)
	return slices.Compact(v)
}

// Rules lists the rules in the order they were added.
func (s *Set) Rules() []*Rule { return s.rules }

// Unindexed lists the rules that are tested on every event because their
// query fixes neither event.action nor event.provider.
func (s *Set) Unindexed() []*Rule { return s.always }

// Match calls fn for each rule whose query matches the document.
func (s *Set) Match(d *Doc, fn func(*Rule)) {
	test := func(rs []*Rule) {
		for _, r := range rs {
			if r.query.Match(d) {
				fn(r)
			}
		}
	}
	for _, v := range d.Values(s.actionID) {
		test(s.byAction[v.Str])
	}
	for _, v := range d.Values(s.providerID) {
		test(s.byProvider[v.Str])
	}
	test(s.always)
}

// Terms calls fn with each term tuple the rule's new_terms fields give for
// the document: the cartesian product of their values, each field's values
// de-duplicated. A field with no value gives no tuple at all. At most max
// tuples are produced (max <= 0: no limit); overflow reports how many more
// there would have been. fn must copy the tuple to keep it.
func (r *Rule) Terms(d *Doc, max int, fn func(tuple []string)) (overflow int) {
	lists := &d.terms
	total := 1
	for i, id := range r.fieldIDs {
		vals := d.Values(id)
		l := lists[i][:0]
		for _, v := range vals {
			if !slices.Contains(l, v.Str) {
				l = append(l, v.Str)
			}
		}
		if len(l) == 0 {
			return 0
		}
		lists[i] = l
		total *= len(l)
	}
	n := len(r.fieldIDs)
	tuple := &d.tuple
	var idx [3]int
	emitted := 0
	for {
		if max > 0 && emitted == max {
			return total - emitted
		}
		for i := range n {
			tuple[i] = lists[i][idx[i]]
		}
		fn(tuple[:n])
		emitted++
		// Advance the odometer, last field fastest.
		i := n - 1
		for ; i >= 0; i-- {
			idx[i]++
			if idx[i] < len(lists[i]) {
				break
			}
			idx[i] = 0
		}
		if i < 0 {
			return 0
		}
	}
}

// Missing lists the rule's new_terms fields that the document lacks: why
// it gives no tuple.
func (r *Rule) Missing(d *Doc) []string {
	var out []string
	for i, id := range r.fieldIDs {
		if len(d.Values(id)) == 0 {
			out = append(out, r.Fields[i])
		}
	}
	return out
}
