package kql

import "strings"

type op uint8

const (
	opAnd op = iota
	opOr
	opNot
	opField // field: value-expression (kids are the value expression)
	opRange // field <op> value
	opValue // a value inside a field clause
)

// node is the parsed query. Inside a field clause, and/or/not combine value
// nodes; at the top they combine clauses.
type node struct {
	op       op
	kids     []*node
	field    string
	pos      int // where the clause or value starts, for errors
	rangeOp  string
	text     string // value text, escapes resolved
	wild     []bool // per byte of text: an unescaped '*'; nil when quoted
	quoted   bool
	fieldPos int
}

type parser struct {
	q    string
	toks []token
	i    int
}

func parse(q string) (*node, error) {
	toks, err := lex(q)
	if err != nil {
		return nil, err
	}
	p := &parser{q: q, toks: toks}
	if p.peek().kind == tEOF {
		return nil, errAt(q, 0, "empty query")
	}
	n, err := p.or(false)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.unexpected(t, "and, or or the end of the query")
	}
	return n, nil
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token { t := p.toks[p.i]; p.i++; return t }

func (p *parser) unexpected(t token, want string) error {
	what := p.q[t.pos:t.end]
	switch t.kind {
	case tEOF:
		return errAt(p.q, t.pos, "unexpected end of query, want %s", want)
	case tLBrace:
		return errAt(p.q, t.pos, "nested field queries (field:{...}) are not supported")
	}
	return errAt(p.q, t.pos, "unexpected %q, want %s", what, want)
}

// or parses a disjunction; inValue is true inside field: ( ... ).
func (p *parser) or(inValue bool) (*node, error) {
	return p.chain(inValue, tOr, opOr, p.and)
}

func (p *parser) and(inValue bool) (*node, error) {
	return p.chain(inValue, tAnd, opAnd, p.not)
}

func (p *parser) chain(inValue bool, sep tokKind, o op, sub func(bool) (*node, error)) (*node, error) {
	first, err := sub(inValue)
	if err != nil {
		return nil, err
	}
	n := &node{op: o, kids: []*node{first}, pos: first.pos}
	for p.peek().kind == sep {
		p.next()
		k, err := sub(inValue)
		if err != nil {
			return nil, err
		}
		n.kids = append(n.kids, k)
	}
	if len(n.kids) == 1 {
		return first, nil
	}
	return n, nil
}

func (p *parser) not(inValue bool) (*node, error) {
	if t := p.peek(); t.kind == tNot {
		p.next()
		x, err := p.not(inValue)
		if err != nil {
			return nil, err
		}
		return &node{op: opNot, kids: []*node{x}, pos: t.pos}, nil
	}
	return p.primary(inValue)
}

func (p *parser) primary(inValue bool) (*node, error) {
	t := p.peek()
	if t.kind == tLParen {
		p.next()
		n, err := p.or(inValue)
		if err != nil {
			return nil, err
		}
		if c := p.peek(); c.kind != tRParen {
			return nil, p.unexpected(c, `")"`)
		}
		p.next()
		return n, nil
	}
	if inValue {
		return p.value()
	}
	return p.clause()
}

// clause parses field: value-expression or field <op> value.
func (p *parser) clause() (*node, error) {
	t := p.next()
	if t.kind != tLiteral && t.kind != tQuoted {
		return nil, p.unexpected(t, "a field name")
	}
	field := t.text
	if t.kind == tLiteral {
		for _, w := range t.wild {
			if w {
				return nil, errAt(p.q, t.pos, "wildcard field names (%s) are not supported", p.q[t.pos:t.end])
			}
		}
	}
	switch sep := p.peek(); sep.kind {
	case tColon:
		p.next()
		if v := p.peek(); v.kind == tLBrace {
			return nil, p.unexpected(v, "")
		}
		var val *node
		var err error
		if p.peek().kind == tLParen {
			p.next()
			val, err = p.or(true)
			if err == nil {
				if c := p.peek(); c.kind != tRParen {
					return nil, p.unexpected(c, `")"`)
				}
				p.next()
			}
		} else {
			val, err = p.value()
		}
		if err != nil {
			return nil, err
		}
		return &node{op: opField, field: field, fieldPos: t.pos, pos: t.pos, kids: []*node{val}}, nil
	case tRange:
		p.next()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		return &node{op: opRange, field: field, fieldPos: t.pos, pos: t.pos, rangeOp: sep.op, kids: []*node{v}}, nil
	default:
		return nil, errAt(p.q, t.pos, "free-text search (%s without a field) is not supported: write field: value", p.q[t.pos:t.end])
	}
}

// value parses one value: a quoted string, or adjacent unquoted words
// joined with the whitespace between them (Kibana keeps it).
func (p *parser) value() (*node, error) {
	t := p.next()
	switch t.kind {
	case tQuoted:
		return &node{op: opValue, text: t.text, quoted: true, pos: t.pos}, nil
	case tLiteral:
	default:
		return nil, p.unexpected(t, "a value")
	}
	var b strings.Builder
	b.WriteString(t.text)
	wild := append([]bool(nil), t.wild...)
	last := t
	for p.peek().kind == tLiteral {
		w := p.next()
		gap := p.q[last.end:w.pos]
		b.WriteString(gap)
		for range len(gap) {
			wild = append(wild, false)
		}
		b.WriteString(w.text)
		wild = append(wild, w.wild...)
		last = w
	}
	return &node{op: opValue, text: b.String(), wild: wild, pos: t.pos}, nil
}
