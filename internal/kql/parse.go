package kql

import (
	"fmt"
	"slices"
	"strings"
)

type op uint8

const (
	opAnd op = iota
	opOr
	opNot
	opField  // field: value-expression (kids are the value expression)
	opRange  // field <op> value
	opValue  // a value inside a field clause
	opFree   // a value without a field (free-text search): an error
	opNested // field: { query }: an error
)

// node is the parsed query. Inside a field clause, and/or/not combine value
// nodes; at the top they combine clauses.
type node struct {
	op       op
	kids     []*node
	field    string
	fieldTxt text // the field name as read, wildcards marked
	pos      int  // where the clause or value starts, for errors
	end      int
	rangeOp  string
	text     string // value text, escapes resolved
	wild     []bool // per byte of text: an unescaped '*'; nil when quoted
	quoted   bool
	fieldPos int
	bracePos int // opNested: the '{'
}

// parser is a recursive descent over the characters of the query, one
// function per rule of Kibana's grammar, with its ordered choice: an
// alternative that fails gives the position back. A query that does not
// parse is reported where parsing got furthest, with what the grammar
// wanted there, as peggy reports it.
type parser struct {
	q     string
	pos   int
	far   int
	want  []string
	fatal *Error
}

func parse(q string) (*node, error) {
	p := &parser{q: q}
	p.spaces()
	if p.pos == len(q) {
		return nil, errAt(q, 0, "empty query")
	}
	n := p.orQuery()
	if p.fatal != nil {
		return nil, p.fatal
	}
	if n != nil {
		p.spaces()
		if p.pos == len(q) {
			if err := unsupported(q, n); err != nil {
				return nil, err
			}
			return n, nil
		}
		p.expect(`"and"`, `"or"`, "the end of the query")
	}
	return nil, p.syntaxError()
}

// expect notes what the grammar wanted at the current position.
func (p *parser) expect(what ...string) {
	if p.pos > p.far {
		p.far, p.want = p.pos, p.want[:0]
	}
	if p.pos == p.far {
		for _, w := range what {
			if !slices.Contains(p.want, w) {
				p.want = append(p.want, w)
			}
		}
	}
}

func (p *parser) syntaxError() error {
	list := p.want[0]
	if n := len(p.want); n > 1 {
		list = strings.Join(p.want[:n-1], ", ") + " or " + p.want[n-1]
	}
	if p.far >= len(p.q) {
		return errAt(p.q, p.far, "unexpected end of query, want %s", list)
	}
	found := p.q[p.far:]
	found = found[:firstRuneLen(found)]
	return errAt(p.q, p.far, "unexpected %q, want %s%s", found, list, p.hint())
}

// hint explains the syntax errors that Kibana's grammar makes of
// queries that look right.
func (p *parser) hint() string {
	before := strings.TrimRightFunc(p.q[:p.far], func(r rune) bool { return spaceAt(string(r), 0) > 0 })
	word := func(w string) bool {
		if len(before) < len(w) || !strings.EqualFold(before[len(before)-len(w):], w) {
			return false
		}
		i := len(before) - len(w)
		return i == 0 || spaceAt(before, i-1) > 0 || before[i-1] == '(' || before[i-1] == ')'
	}
	rest := p.q[p.far:]
	switch {
	case rest[0] == '(' && len(before) == len(p.q[:p.far]):
		for _, w := range [...]string{"not", "and", "or"} {
			if word(w) {
				return fmt.Sprintf(" (the grammar needs a space between %s and \"(\")", before[len(before)-len(w):])
			}
		}
	case keywordAt(p.q, p.far) && wordAt(p.q, p.far, "not"):
		switch {
		case strings.HasSuffix(before, ":"):
			return " (a not among a field's values needs parentheses: field: (not value))"
		case word("not"):
			return " (not not is not in the grammar: write not (not ...))"
		case len(before) == len(p.q[:p.far]):
			return ` (an unquoted value ends before "not " inside it: quote the value)`
		}
	case before != "" && before[len(before)-1] == ')' && len(before) == len(p.q[:p.far]) && (wordAt(rest, 0, "and") || wordAt(rest, 0, "or")):
		return " (the grammar needs a space between \")\" and the operator)"
	}
	return ""
}

func firstRuneLen(s string) int {
	for i := range s {
		if i > 0 {
			return i
		}
	}
	return len(s)
}

func (p *parser) spaces() int {
	n := 0
	for {
		k := spaceAt(p.q, p.pos)
		if k == 0 {
			return n
		}
		p.pos += k
		n++
	}
}

// char consumes c, or notes it as wanted.
func (p *parser) char(c byte, label string) bool {
	if p.pos < len(p.q) && p.q[p.pos] == c {
		p.pos++
		return true
	}
	p.expect(label)
	return false
}

// joiner is Or and And: one or more spaces, the word, one or more spaces.
func (p *parser) joiner(word string) bool {
	save := p.pos
	if p.spaces() > 0 && wordAt(p.q, p.pos, word) {
		p.pos += len(word)
		if p.spaces() > 0 {
			return true
		}
	}
	p.pos = save
	p.expect(`"` + word + `"`)
	return false
}

// not is Not: the word and one or more spaces.
func (p *parser) not() bool {
	save := p.pos
	if wordAt(p.q, p.pos, "not") {
		p.pos += 3
		if p.spaces() > 0 {
			return true
		}
	}
	p.pos = save
	p.expect(`"not"`)
	return false
}

// chain parses sub (joiner sub)+, or sub alone.
func (p *parser) chain(word string, o op, sub func() *node) *node {
	first := sub()
	if first == nil {
		return nil
	}
	n := &node{op: o, kids: []*node{first}, pos: first.pos}
	for p.fatal == nil {
		save := p.pos
		if !p.joiner(word) {
			break
		}
		k := sub()
		if k == nil {
			p.pos = save
			break
		}
		n.kids = append(n.kids, k)
	}
	if len(n.kids) == 1 {
		return first
	}
	return n
}

func (p *parser) orQuery() *node  { return p.chain("or", opOr, p.andQuery) }
func (p *parser) andQuery() *node { return p.chain("and", opAnd, p.notQuery) }

func (p *parser) notQuery() *node {
	save := p.pos
	if p.not() {
		if x := p.subQuery(); x != nil {
			return &node{op: opNot, kids: []*node{x}, pos: save}
		}
		if p.fatal != nil {
			return nil
		}
		p.pos = save
	}
	return p.subQuery()
}

func (p *parser) subQuery() *node {
	save := p.pos
	if p.char('(', `"("`) {
		p.spaces()
		if n := p.orQuery(); n != nil {
			p.spaces()
			if p.char(')', `")"`) {
				return n
			}
		}
		if p.fatal != nil {
			return nil
		}
		p.pos = save
	}
	return p.nestedQuery()
}

func (p *parser) nestedQuery() *node {
	save := p.pos
	if f, ok := p.literal("a field name"); ok {
		fieldEnd := p.pos
		p.spaces()
		if p.char(':', `":"`) {
			p.spaces()
			brace := p.pos
			if p.char('{', `"{"`) {
				p.spaces()
				if inner := p.orQuery(); inner != nil {
					p.spaces()
					if p.char('}', `"}"`) {
						return &node{op: opNested, field: f.s, fieldTxt: f, pos: save, fieldPos: save, bracePos: brace, end: fieldEnd, kids: []*node{inner}}
					}
				}
			}
		}
	}
	if p.fatal != nil {
		return nil
	}
	p.pos = save
	return p.expression()
}

func (p *parser) expression() *node {
	save := p.pos
	for _, alt := range []func() *node{p.fieldRange, p.fieldValue, p.valueExpression} {
		if n := alt(); n != nil || p.fatal != nil {
			return n
		}
		p.pos = save
	}
	return nil
}

func (p *parser) fieldRange() *node {
	start := p.pos
	f, ok := p.literal("a field name")
	if !ok {
		return nil
	}
	p.spaces()
	var rop string
	for _, o := range [...]string{"<=", ">=", "<", ">"} {
		if strings.HasPrefix(p.q[p.pos:], o) {
			rop = o
			break
		}
	}
	if rop == "" {
		p.expect("a range operator")
		return nil
	}
	p.pos += len(rop)
	p.spaces()
	v, ok := p.value()
	if !ok {
		return nil
	}
	return &node{op: opRange, field: f.s, fieldTxt: f, fieldPos: start, pos: start, rangeOp: rop, kids: []*node{v}}
}

func (p *parser) fieldValue() *node {
	start := p.pos
	f, ok := p.literal("a field name")
	if !ok {
		return nil
	}
	p.spaces()
	if !p.char(':', `":"`) {
		return nil
	}
	p.spaces()
	v := p.listOfValues()
	if v == nil {
		return nil
	}
	return &node{op: opField, field: f.s, fieldTxt: f, fieldPos: start, pos: start, kids: []*node{v}}
}

func (p *parser) valueExpression() *node {
	start := p.pos
	v, ok := p.value()
	if !ok {
		return nil
	}
	return &node{op: opFree, pos: start, end: p.pos, kids: []*node{v}}
}

func (p *parser) listOfValues() *node {
	save := p.pos
	if p.char('(', `"("`) {
		p.spaces()
		if n := p.orList(); n != nil {
			p.spaces()
			if p.char(')', `")"`) {
				return n
			}
		}
		if p.fatal != nil {
			return nil
		}
		p.pos = save
	}
	v, ok := p.value()
	if !ok {
		return nil
	}
	return v
}

func (p *parser) orList() *node  { return p.chain("or", opOr, p.andList) }
func (p *parser) andList() *node { return p.chain("and", opAnd, p.notList) }

func (p *parser) notList() *node {
	save := p.pos
	if p.not() {
		if x := p.listOfValues(); x != nil {
			return &node{op: opNot, kids: []*node{x}, pos: save}
		}
		if p.fatal != nil {
			return nil
		}
		p.pos = save
	}
	return p.listOfValues()
}

// value is Value: a quoted string or an unquoted literal.
func (p *parser) value() (*node, bool) {
	start := p.pos
	t, ok := p.literal("a value")
	if !ok {
		return nil, false
	}
	return &node{op: opValue, text: t.s, wild: t.wild, quoted: t.wild == nil, pos: start, end: p.pos}, true
}

// literal is Literal: a quoted string or an unquoted literal; label names
// it in an error.
func (p *parser) literal(label string) (text, bool) {
	if p.fatal != nil {
		return text{}, false
	}
	if p.pos < len(p.q) && p.q[p.pos] == '"' {
		t, n, err := quotedAt(p.q, p.pos)
		if err != nil {
			p.fatal = err
			return text{}, false
		}
		p.pos = n
		return t, true // wild nil: quoted
	}
	t, n, err := unquotedAt(p.q, p.pos)
	switch {
	case err != nil:
		p.fatal = err
		return text{}, false
	case n == p.pos:
		p.expect(label)
		return text{}, false
	}
	p.pos = n
	if t.wild == nil {
		t.wild = []bool{} // unquoted, even when empty after trimming
	}
	return t, true
}

// unsupported is the first construct of the parsed query, in the order of
// the text, that newterms does not evaluate.
func unsupported(q string, n *node) error {
	var first error
	firstAt := len(q) + 1
	var walk func(n *node)
	walk = func(n *node) {
		var err error
		at := n.pos
		switch n.op {
		case opFree:
			err = errAt(q, n.pos, "free-text search (%s without a field) is not supported: write field: value", strings.TrimSpace(q[n.pos:n.end]))
		case opNested:
			at = n.bracePos
			err = errAt(q, n.bracePos, "nested field queries (field:{...}) are not supported")
		case opField, opRange:
			if slices.Contains(n.fieldTxt.wild, true) {
				err = errAt(q, n.fieldPos, "wildcard field names (%s) are not supported", fieldText(q, n))
			}
		}
		if err != nil && at < firstAt {
			first, firstAt = err, at
		}
		if n.op == opAnd || n.op == opOr || n.op == opNot {
			for _, k := range n.kids {
				walk(k)
			}
		}
	}
	walk(n)
	return first
}

// fieldText is the field name as the query writes it.
func fieldText(q string, n *node) string {
	end := strings.IndexAny(q[n.fieldPos:], ":<>")
	if end < 0 {
		return n.field
	}
	return strings.TrimSpace(q[n.fieldPos : n.fieldPos+end])
}
