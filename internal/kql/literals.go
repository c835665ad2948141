package kql

import (
	"strconv"
	"strings"
)

// Literal is text that a record's raw JSON must contain for a query to
// match: at the start of a JSON string (AtStart), or anywhere.
type Literal struct {
	Text    string
	AtStart bool
}

// Placement says how a field's values sit in the raw record: Whole when
// every value is an entire JSON string of the record, Substring when every
// value is part of one, and None when values are computed (or may be
// numbers or booleans) so that nothing can be said.
type Placement uint8

const (
	None Placement = iota
	Whole
	Substring
)

// Literals derives what a record's raw text must contain for the query to
// match, as clauses: the record must hold, for every clause, one of its
// literals. ok is false when nothing can be derived (a query made only of
// negations, ranges, computed fields...). Literals are never numbers,
// true/false, or text that JSON would escape.
func (q *Query) Literals(place func(field string) Placement) (clauses [][]Literal, ok bool) {
	c := clausesOf(q.ast, func(n *node) [][]Literal {
		p := place(n.field)
		if n.op != opField || p == None {
			return nil
		}
		return clausesOf(n.kids[0], func(v *node) [][]Literal {
			if l, ok := valueLiteral(v, p); ok {
				return [][]Literal{{l}}
			}
			return nil
		})
	})
	return c, len(c) > 0
}

// clausesOf walks and/or: and keeps every child's clauses; or needs each
// child to give one, and joins the best of each into one clause. Other
// nodes go to leaf.
func clausesOf(n *node, leaf func(*node) [][]Literal) [][]Literal {
	switch n.op {
	case opAnd:
		var all [][]Literal
		for _, k := range n.kids {
			all = append(all, clausesOf(k, leaf)...)
		}
		return all
	case opOr:
		var one []Literal
		for _, k := range n.kids {
			c := clausesOf(k, leaf)
			if len(c) == 0 {
				return nil
			}
			one = append(one, best(c)...)
		}
		return [][]Literal{one}
	case opNot:
		return nil
	}
	return leaf(n)
}

// best is the most selective clause: fewest alternatives, then the longest
// shortest literal.
func best(cs [][]Literal) []Literal {
	b := cs[0]
	for _, c := range cs[1:] {
		if len(c) < len(b) || len(c) == len(b) && minLen(c) > minLen(b) {
			b = c
		}
	}
	return b
}

// valueLiteral picks, from one value, the literal the record must hold.
func valueLiteral(n *node, p Placement) (Literal, bool) {
	if !n.hasWildcard() {
		if !safe(n.text) || len(n.text) < 2 {
			return Literal{}, false
		}
		return Literal{Text: n.text, AtStart: p == Whole}, true
	}
	// The literal runs of a wildcard pattern: the leading one is anchored.
	var runs []string
	var cur strings.Builder
	lead := !n.wild[0]
	for i := 0; i < len(n.text); i++ {
		if n.wild[i] {
			runs = append(runs, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(n.text[i])
	}
	runs = append(runs, cur.String())
	if lead && p == Whole && len(runs[0]) >= 2 && safe(runs[0]) {
		return Literal{Text: runs[0], AtStart: true}, true
	}
	longest := ""
	for _, r := range runs {
		if len(r) > len(longest) && safe(r) {
			longest = r
		}
	}
	if len(longest) < 3 {
		return Literal{}, false
	}
	return Literal{Text: longest}, true
}

// safe: text that JSON writes as itself, and that no number or boolean
// could stand for.
func safe(s string) bool {
	if _, err := strconv.ParseFloat(s, 64); err == nil || s == "true" || s == "false" || s == "null" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func minLen(ls []Literal) int {
	m := -1
	for _, l := range ls {
		if m < 0 || len(l.Text) < m {
			m = len(l.Text)
		}
	}
	return m
}
