package kql

// Required returns the exact values one of which field must hold for the
// query to match; ok is false when the query puts no such constraint on the
// field. It reads literal text, so it suits keyword fields (event.action,
// event.provider): a rule index keyed on them skips rules that cannot match.
func (q *Query) Required(field string) (values []string, ok bool) {
	return required(q.ast, field)
}

func required(n *node, field string) ([]string, bool) {
	switch n.op {
	case opAnd:
		for _, k := range n.kids {
			if vals, ok := required(k, field); ok {
				return vals, true
			}
		}
	case opOr:
		var all []string
		for _, k := range n.kids {
			vals, ok := required(k, field)
			if !ok {
				return nil, false
			}
			all = append(all, vals...)
		}
		return all, true
	case opField:
		if n.field == field {
			return valueSet(n.kids[0])
		}
	}
	return nil, false
}

// valueSet is required() inside a field clause's value expression.
func valueSet(n *node) ([]string, bool) {
	switch n.op {
	case opValue:
		if n.hasWildcard() {
			return nil, false
		}
		return []string{n.text}, true
	case opAnd:
		for _, k := range n.kids {
			if vals, ok := valueSet(k); ok {
				return vals, true
			}
		}
	case opOr:
		var all []string
		for _, k := range n.kids {
			vals, ok := valueSet(k)
			if !ok {
				return nil, false
			}
			all = append(all, vals...)
		}
		return all, true
	}
	return nil, false
}
