package kql

import (
	"cmp"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// FieldType is how Elasticsearch maps a field, which decides how a value
// in the query compares with the document's values.
type FieldType uint8

const (
	Keyword FieldType = iota // exact or wildcard string match, as text; ranges compare strings
	IP                       // literal IP or CIDR; ranges compare addresses
	Long                     // whole numbers, compared exactly
	Boolean                  // true / false
	Date                     // RFC 3339 timestamps or dates
	// Object is a path with fields below it and no value of its own:
	// field: * holds when any of them has a value; any other test
	// matches nothing, as a query on an unmapped field does.
	Object
)

func (t FieldType) String() string {
	return [...]string{"keyword", "ip", "long", "boolean", "date", "object"}[t]
}

// Resolver maps a field name to an id and a type. known is false for a
// field that documents never hold: the query still compiles (the field is
// missing, as in Kibana) and Query.Unknown lists it.
type Resolver func(field string) (id int, typ FieldType, known bool)

// Query is a compiled query. It is immutable and safe for concurrent use.
type Query struct {
	text    string
	ast     *node
	root    matcher
	fields  []string // every field the query names, in order of appearance
	unknown []string
}

// Compile parses and compiles q.
func Compile(q string, resolve Resolver) (*Query, error) {
	ast, err := parse(q)
	if err != nil {
		return nil, err
	}
	c := &compiler{q: q, resolve: resolve, query: &Query{text: q, ast: ast}}
	root, err := c.clauses(ast)
	if err != nil {
		return nil, err
	}
	c.query.root = root
	return c.query, nil
}

// Match reports whether the document matches.
func (q *Query) Match(src Source) bool { return q.root.match(src) }

// String is the query text.
func (q *Query) String() string { return q.text }

// Fields lists the fields the query names, without duplicates.
func (q *Query) Fields() []string { return q.fields }

// Unknown lists the fields the resolver did not know.
func (q *Query) Unknown() []string { return q.unknown }

type matcher interface {
	match(src Source) bool
}

type andM []matcher
type orM []matcher
type notM struct{ x matcher }

func (m andM) match(s Source) bool {
	for _, x := range m {
		if !x.match(s) {
			return false
		}
	}
	return true
}

func (m orM) match(s Source) bool {
	for _, x := range m {
		if x.match(s) {
			return true
		}
	}
	return false
}

func (m notM) match(s Source) bool { return !m.x.match(s) }

// anyValue holds when some value of the field satisfies pred.
type anyValue struct {
	id   int
	pred func(v *Value) bool // nil: the field exists
}

func (m anyValue) match(s Source) bool {
	vals := s.Values(m.id)
	if m.pred == nil {
		return len(vals) > 0
	}
	for i := range vals {
		if m.pred(&vals[i]) {
			return true
		}
	}
	return false
}

type compiler struct {
	q       string
	resolve Resolver
	query   *Query
}

func (c *compiler) field(name string) (int, FieldType) {
	id, typ, known := c.resolve(name)
	if !slices.Contains(c.query.fields, name) {
		c.query.fields = append(c.query.fields, name)
		if !known {
			c.query.unknown = append(c.query.unknown, name)
		}
	}
	return id, typ
}

// combine compiles and/or/not, handing every other node to leaf: field
// clauses at the query level, values inside a field clause.
func (c *compiler) combine(n *node, leaf func(*node) (matcher, error)) (matcher, error) {
	switch n.op {
	case opAnd, opOr:
		ms := make([]matcher, len(n.kids))
		for i, k := range n.kids {
			m, err := c.combine(k, leaf)
			if err != nil {
				return nil, err
			}
			ms[i] = m
		}
		if n.op == opAnd {
			return andM(ms), nil
		}
		return orM(ms), nil
	case opNot:
		m, err := c.combine(n.kids[0], leaf)
		return notM{m}, err
	}
	return leaf(n)
}

// clauses compiles the query level.
func (c *compiler) clauses(n *node) (matcher, error) {
	return c.combine(n, func(n *node) (matcher, error) {
		id, typ := c.field(n.field)
		if n.op == opRange {
			return c.rangeClause(n, id, typ)
		}
		return c.values(n.kids[0], id, typ)
	})
}

// values compiles a value expression for one field: each value is its own
// test of "some value of the field matches", as Kibana turns every term
// into its own Elasticsearch query.
func (c *compiler) values(n *node, id int, typ FieldType) (matcher, error) {
	return c.combine(n, func(n *node) (matcher, error) {
		pred, err := c.predicate(n, typ)
		return anyValue{id: id, pred: pred}, err
	})
}

func (n *node) hasWildcard() bool { return slices.Contains(n.wild, true) }

func (n *node) onlyWildcards() bool {
	if len(n.wild) == 0 {
		return false
	}
	for _, w := range n.wild {
		if !w {
			return false
		}
	}
	return true
}

// predicate compiles one value; nil means "exists" (field: *).
func (c *compiler) predicate(n *node, typ FieldType) (func(*Value) bool, error) {
	if n.onlyWildcards() {
		return nil, nil
	}
	if typ == Object {
		return func(*Value) bool { return false }, nil
	}
	if n.hasWildcard() {
		if typ != Keyword && typ != IP {
			return nil, errAt(c.q, n.pos, "wildcard %q on %s field: only keyword fields take wildcards", n.text, typ)
		}
		g := compileGlob(n.text, n.wild)
		return func(v *Value) bool { return g.match(v.Str) }, nil
	}
	s := n.text
	switch typ {
	case IP:
		// Elasticsearch keeps every address in 16 bytes, an IPv4 one as
		// IPv4-mapped IPv6, so ::/0 and ::ffff:0:0/96 hold IPv4 addresses.
		if p, err := netip.ParsePrefix(s); err == nil && p.Addr().Zone() == "" {
			if p.Addr().Is4() {
				p = netip.PrefixFrom(ip16(p.Addr()), p.Bits()+96)
			}
			p = p.Masked()
			return func(v *Value) bool {
				a, ok := ipOf(v)
				return ok && p.Contains(a)
			}, nil
		}
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return nil, errAt(c.q, n.pos, "%q is not an IP address or CIDR block", s)
		}
		a = ip16(a)
		return func(v *Value) bool {
			b, ok := ipOf(v)
			return ok && b == a
		}, nil
	case Long:
		want, ok := parseNum(s)
		if !ok {
			return nil, errAt(c.q, n.pos, "%q is not a number, and the field is numeric", s)
		}
		return func(v *Value) bool {
			got, ok := parseNum(v.Str)
			return ok && compareNum(got, want) == 0
		}, nil
	case Boolean:
		want, err := c.boolean(n, s)
		if err != nil {
			return nil, err
		}
		return func(v *Value) bool { return v.Str == want }, nil
	case Date:
		t, ok := parseDate(s)
		if !ok {
			return nil, errAt(c.q, n.pos, "%q is not a date (RFC 3339 or YYYY-MM-DD); date math is not supported", s)
		}
		return func(v *Value) bool { d, ok := parseDate(v.Str); return ok && d.Equal(t) }, nil
	}
	// Keyword (and flattened) fields hold text: a number in the query is
	// text too, so 3600.0 is not 3600 and no digit is lost to rounding.
	return func(v *Value) bool { return v.Str == s }, nil
}

// boolean is a boolean field's value as Elasticsearch parses it: true or
// false, in lower case; TRUE fails the query there.
func (c *compiler) boolean(n *node, s string) (string, error) {
	if s != "true" && s != "false" {
		return "", errAt(c.q, n.pos, "%q is not true or false, and the field is boolean (Elasticsearch takes no other spelling)", s)
	}
	return s, nil
}

func ip16(a netip.Addr) netip.Addr { return netip.AddrFrom16(a.As16()) }

// ipOf is a value as an address in 16 bytes.
func ipOf(v *Value) (netip.Addr, bool) {
	a, err := netip.ParseAddr(v.Str)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return ip16(a), true
}

// longNum is a number as a long field compares it: exactly when whole.
type longNum struct {
	i     int64
	f     float64
	whole bool
}

func parseNum(s string) (longNum, bool) {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return longNum{i: i, f: float64(i), whole: true}, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) {
		return longNum{}, false
	}
	if f == math.Trunc(f) && math.Abs(f) < 1<<63 {
		return longNum{i: int64(f), f: f, whole: true}, true
	}
	return longNum{f: f}, true
}

func compareNum(a, b longNum) int {
	if a.whole && b.whole {
		return cmp.Compare(a.i, b.i)
	}
	return cmp.Compare(a.f, b.f)
}

func parseDate(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func (c *compiler) rangeClause(n *node, id int, typ FieldType) (matcher, error) {
	v := n.kids[0]
	if v.hasWildcard() {
		return nil, errAt(c.q, v.pos, "wildcards are not allowed in a range")
	}
	s := v.text
	var compare func(*Value) (int, bool)
	switch typ {
	case Long:
		want, ok := parseNum(s)
		if !ok {
			return nil, errAt(c.q, v.pos, "%q is not a number, and the field is numeric", s)
		}
		compare = func(x *Value) (int, bool) {
			got, ok := parseNum(x.Str)
			return compareNum(got, want), ok
		}
	case Date:
		t, ok := parseDate(s)
		if !ok {
			return nil, errAt(c.q, v.pos, "%q is not a date (RFC 3339 or YYYY-MM-DD); date math is not supported", s)
		}
		compare = func(x *Value) (int, bool) {
			d, ok := parseDate(x.Str)
			return d.Compare(t), ok
		}
	case IP:
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return nil, errAt(c.q, v.pos, "%q is not an IP address", s)
		}
		a = ip16(a)
		compare = func(x *Value) (int, bool) {
			b, ok := ipOf(x)
			return b.Compare(a), ok
		}
	case Boolean:
		// Elasticsearch ranges over booleans too: false < true.
		want, err := c.boolean(v, s)
		if err != nil {
			return nil, err
		}
		compare = func(x *Value) (int, bool) {
			if x.Str != "true" && x.Str != "false" {
				return 0, false
			}
			return strings.Compare(x.Str, want), true // "false" < "true"
		}
	case Object:
		return anyValue{id: id, pred: func(*Value) bool { return false }}, nil
	default:
		compare = func(x *Value) (int, bool) { return strings.Compare(x.Str, s), true }
	}
	var ok func(int) bool
	switch n.rangeOp {
	case "<":
		ok = func(r int) bool { return r < 0 }
	case "<=":
		ok = func(r int) bool { return r <= 0 }
	case ">":
		ok = func(r int) bool { return r > 0 }
	default:
		ok = func(r int) bool { return r >= 0 }
	}
	return anyValue{id: id, pred: func(x *Value) bool {
		r, valid := compare(x)
		return valid && ok(r)
	}}, nil
}

// glob matches strings against a pattern whose only wildcard is '*': the
// literal runs around and between the wildcards, the first and last anchored.
type glob struct {
	parts []string
}

func compileGlob(text string, wild []bool) glob {
	var g glob
	var cur strings.Builder
	for i := 0; i < len(text); i++ {
		if wild[i] {
			g.parts = append(g.parts, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(text[i])
	}
	g.parts = append(g.parts, cur.String())
	return g
}

func (g glob) match(s string) bool {
	parts := g.parts
	// parts[0] precedes the first '*', parts[len-1] follows the last.
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	if len(s) < len(last) || !strings.HasSuffix(s, last) {
		return false
	}
	s = s[:len(s)-len(last)]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return true
}
