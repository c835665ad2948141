package kql

// Required returns the exact values one of which field must hold for the
// query to match; ok is false when the query puts no such constraint on the
// field. It reads literal text, so it suits keyword fields (event.action,
// event.provider): a rule index keyed on them skips rules that cannot match.
func (q *Query) Required(field string) (values []string, ok bool) {
	c := clausesOf(q.ast, func(n *node) [][]Literal {
		if n.op != opField || n.field != field {
			return nil
		}
		return clausesOf(n.kids[0], func(v *node) [][]Literal {
			if v.hasWildcard() {
				return nil
			}
			return [][]Literal{{{Text: v.text}}}
		})
	})
	if len(c) == 0 {
		return nil, false
	}
	for _, l := range c[0] {
		values = append(values, l.Text)
	}
	return values, true
}
