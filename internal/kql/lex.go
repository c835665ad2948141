// Package kql parses the Kibana Query Language subset that Elastic's
// detection rules use and compiles a query into a predicate over a
// document's field values, with Kibana's semantics: case-sensitive, exact
// unless wildcarded, any value of a multi-valued field may match, and `not
// field: x` holds when the field is missing.
//
// Outside the subset (free-text search, nested field:{...}, wildcard field
// names) a query is an error naming the construct and its position, never
// silently true or false.
package kql

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

type tokKind uint8

const (
	tEOF tokKind = iota
	tLParen
	tRParen
	tLBrace
	tRBrace
	tColon
	tRange // <, <=, >, >=
	tAnd
	tOr
	tNot
	tQuoted  // "..." with escapes resolved
	tLiteral // an unquoted word
)

// token is one lexical unit. For literals, text has escapes resolved and
// wild marks which bytes of text are unescaped '*' wildcards.
type token struct {
	kind     tokKind
	pos, end int // byte offsets in the query
	text     string
	wild     []bool // literals only: per byte of text
	op       string // range operator
}

// Error is a query error at a position in the query text.
type Error struct {
	Line, Col int // 1-based
	Offset    int // byte offset
	Msg       string
}

func (e *Error) Error() string { return fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Msg) }

func errAt(q string, off int, format string, args ...any) *Error {
	off = min(max(off, 0), len(q))
	line, col := 1, 1
	for _, r := range q[:off] {
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return &Error{Line: line, Col: col, Offset: off, Msg: fmt.Sprintf(format, args...)}
}

const special = `\():<>"*{}`

// punct are the one-character tokens.
var punct = map[byte]tokKind{'(': tLParen, ')': tRParen, '{': tLBrace, '}': tRBrace, ':': tColon}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// lex splits a query into tokens. Whitespace separates literal words; the
// parser joins adjacent words into one value, as Kibana does.
func lex(q string) ([]token, error) {
	var toks []token
	i := 0
	for {
		for i < len(q) && isSpace(q[i]) {
			i++
		}
		if i == len(q) {
			toks = append(toks, token{kind: tEOF, pos: i, end: i})
			return toks, nil
		}
		start := i
		if k, ok := punct[q[i]]; ok {
			toks = append(toks, token{kind: k, pos: i, end: i + 1})
			i++
			continue
		}
		switch c := q[i]; c {
		case '<', '>':
			op := string(c)
			i++
			if i < len(q) && q[i] == '=' {
				op += "="
				i++
			}
			toks = append(toks, token{kind: tRange, pos: start, end: i, op: op})
		case '"':
			s, n, err := quoted(q, i)
			if err != nil {
				return nil, err
			}
			i = n
			toks = append(toks, token{kind: tQuoted, pos: start, end: i, text: s})
		default:
			t, n, err := literal(q, i)
			if err != nil {
				return nil, err
			}
			i = n
			toks = append(toks, t)
		}
	}
}

// quoted reads a "..." string starting at q[i]; inside it '*' is literal.
func quoted(q string, i int) (string, int, error) {
	var b strings.Builder
	start := i
	i++
	for i < len(q) {
		c := q[i]
		switch {
		case c == '"':
			return b.String(), i + 1, nil
		case c == '\\':
			if i+1 >= len(q) {
				return "", 0, errAt(q, i, "unfinished escape at the end of the query")
			}
			r, n, err := escape(q, i, true)
			if err != nil {
				return "", 0, err
			}
			b.WriteString(r)
			i = n
		default:
			b.WriteByte(c)
			i++
		}
	}
	return "", 0, errAt(q, start, "unterminated quoted string")
}

// escape resolves the escape sequence at q[i] == '\\'. Quoted strings take
// \" \\ \t \r \n \uXXXX; unquoted literals also take \ before any special
// character and \t \r \n.
func escape(q string, i int, inQuotes bool) (string, int, error) {
	c := q[i+1]
	switch c {
	case 't':
		return "\t", i + 2, nil
	case 'r':
		return "\r", i + 2, nil
	case 'n':
		return "\n", i + 2, nil
	case 'u':
		if i+6 > len(q) {
			return "", 0, errAt(q, i, `bad \u escape: want four hex digits`)
		}
		var r rune
		for _, h := range q[i+2 : i+6] {
			var d rune
			switch {
			case h >= '0' && h <= '9':
				d = h - '0'
			case h >= 'a' && h <= 'f':
				d = h - 'a' + 10
			case h >= 'A' && h <= 'F':
				d = h - 'A' + 10
			default:
				return "", 0, errAt(q, i, `bad \u escape: want four hex digits`)
			}
			r = r<<4 | d
		}
		return string(r), i + 6, nil
	}
	if inQuotes {
		if c == '"' || c == '\\' {
			return string(c), i + 2, nil
		}
		return "", 0, errAt(q, i, `unknown escape \%c in a quoted string`, c)
	}
	if strings.IndexByte(special, c) >= 0 {
		return string(c), i + 2, nil
	}
	// Kibana's escaped keywords: \and \or \not are the plain words.
	for _, kw := range []string{"and", "or", "not"} {
		if len(q) >= i+1+len(kw) && strings.EqualFold(q[i+1:i+1+len(kw)], kw) {
			return q[i+1 : i+1+len(kw)], i + 1 + len(kw), nil
		}
	}
	return "", 0, errAt(q, i, `unknown escape \%c`, c)
}

// literal reads an unquoted word: up to whitespace or a special character.
func literal(q string, i int) (token, int, error) {
	start := i
	var b strings.Builder
	var wild []bool
	for i < len(q) {
		c := q[i]
		if isSpace(c) {
			break
		}
		if c == '\\' {
			if i+1 >= len(q) {
				return token{}, 0, errAt(q, i, "unfinished escape at the end of the query")
			}
			r, n, err := escape(q, i, false)
			if err != nil {
				return token{}, 0, err
			}
			b.WriteString(r)
			for range len(r) {
				wild = append(wild, false)
			}
			i = n
			continue
		}
		if c == '*' {
			b.WriteByte('*')
			wild = append(wild, true)
			i++
			continue
		}
		if strings.IndexByte(special, c) >= 0 {
			break
		}
		_, size := utf8.DecodeRuneInString(q[i:])
		b.WriteString(q[i : i+size])
		for range size {
			wild = append(wild, false)
		}
		i += size
	}
	text := b.String()
	t := token{kind: tLiteral, pos: start, end: i, text: text, wild: wild}
	// A bare keyword (not escaped) is an operator.
	if i-start == len(text) {
		switch strings.ToLower(text) {
		case "and":
			t.kind = tAnd
		case "or":
			t.kind = tOr
		case "not":
			t.kind = tNot
		}
	}
	return t, i, nil
}
