// Package kql parses the Kibana Query Language as Kibana's grammar
// (kbn-es-query, kuery/grammar/grammar.peggy) defines it, and compiles a
// query into a predicate over a document's field values, with
// Elasticsearch's semantics: case-sensitive, exact unless wildcarded, any
// value of a multi-valued field may match, and `not field: x` holds when
// the field is missing.
//
// What the grammar rejects is an error here too. What it accepts but
// newterms does not evaluate (free-text search, nested field:{...},
// wildcard field names) is an error naming the construct and its
// position, never silently true or false.
package kql

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

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

// The grammar's character classes.

// special is SpecialCharacter: what ends an unquoted literal.
const special = `\():<>"*{}`

// spaceAt is the size of a Space (space, tab, CR, LF or no-break space)
// at q[i], or 0.
func spaceAt(q string, i int) int {
	if i >= len(q) {
		return 0
	}
	switch q[i] {
	case ' ', '\t', '\r', '\n':
		return 1
	case 0xC2:
		if i+1 < len(q) && q[i+1] == 0xA0 {
			return 2
		}
	}
	return 0
}

// wordAt reports whether q holds the word w at i, in any case.
func wordAt(q string, i int, w string) bool {
	return len(q)-i >= len(w) && strings.EqualFold(q[i:i+len(w)], w)
}

// keywordAt is the grammar's Keyword, which an unquoted literal cannot
// run into: a space, "or" or "and", and a space; or "not" and a space.
// So `x: cannot y` ends its value before "not".
func keywordAt(q string, i int) bool {
	if n := spaceAt(q, i); n > 0 {
		for _, w := range [...]string{"or", "and"} {
			if wordAt(q, i+n, w) && spaceAt(q, i+n+len(w)) > 0 {
				return true
			}
		}
		return false
	}
	return wordAt(q, i, "not") && spaceAt(q, i+3) > 0
}

// jsSpace is what JavaScript's String.prototype.trim removes, which the
// grammar applies to an unquoted literal.
func jsSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0xA0, 0xFEFF, 0x2028, 0x2029:
		return true
	}
	return unicode.Is(unicode.Zs, r)
}

// text is a literal's value: the text with escapes resolved, and which of
// its bytes are unescaped '*' wildcards (nil for a quoted string).
type text struct {
	s    string
	wild []bool
}

// quotedAt reads QuotedString at q[i] == '"'. Inside it \t \r \n \uXXXX
// \\ and \" are escapes; a backslash before anything else is itself
// ("C:\Windows" is C:\Windows).
func quotedAt(q string, i int) (text, int, *Error) {
	var b strings.Builder
	start := i
	i++
	for i < len(q) {
		c := q[i]
		if c == '"' {
			return text{s: b.String()}, i + 1, nil
		}
		if c == '\\' && i+1 < len(q) {
			if r, n, ok := escapeAt(q, i); ok {
				b.WriteString(r)
				i = n
				continue
			}
			if q[i+1] == '\\' || q[i+1] == '"' {
				b.WriteByte(q[i+1])
				i += 2
				continue
			}
		}
		b.WriteByte(c)
		i++
	}
	return text{}, 0, errAt(q, start, "unterminated quoted string")
}

// escapeAt reads the escapes both kinds of literal share (EscapedWhitespace,
// EscapedUnicodeSequence) at q[i] == '\\'.
func escapeAt(q string, i int) (string, int, bool) {
	if i+1 >= len(q) {
		return "", 0, false
	}
	switch q[i+1] {
	case 't':
		return "\t", i + 2, true
	case 'r':
		return "\r", i + 2, true
	case 'n':
		return "\n", i + 2, true
	case 'u':
		if i+6 > len(q) {
			return "", 0, false
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
				return "", 0, false
			}
			r = r<<4 | d
		}
		return string(r), i + 6, true
	}
	return "", 0, false
}

// unquotedAt reads UnquotedLiteral at q[i]: characters up to a special
// character or a keyword, spaces included, then trimmed. n is where it
// ends, i when there is none. A backslash that escapes nothing the grammar
// knows is an error: no rule can read it, so Kibana rejects the query.
func unquotedAt(q string, i int) (t text, n int, err *Error) {
	var b strings.Builder
	var wild []bool
	plain := func(s string) {
		b.WriteString(s)
		for range len(s) {
			wild = append(wild, false)
		}
	}
	start := i
	for i < len(q) {
		c := q[i]
		switch {
		case c == '\\':
			if r, next, ok := escapeAt(q, i); ok {
				plain(r)
				i = next
				continue
			}
			if i+1 < len(q) && strings.IndexByte(special, q[i+1]) >= 0 {
				plain(q[i+1 : i+2])
				i += 2
				continue
			}
			if kw := escapedKeyword(q, i+1); kw != "" {
				plain(kw)
				i += 1 + len(kw)
				continue
			}
			if i+1 >= len(q) {
				return text{}, 0, errAt(q, i, "unfinished escape at the end of the query")
			}
			if q[i+1] == 'u' {
				return text{}, 0, errAt(q, i, `bad \u escape: want four hex digits`)
			}
			r, _ := utf8.DecodeRuneInString(q[i+1:])
			return text{}, 0, errAt(q, i, `unknown escape \%c`, r)
		case c == '*':
			b.WriteByte('*')
			wild = append(wild, true)
			i++
			continue
		case strings.IndexByte(special, c) >= 0 || keywordAt(q, i):
		default:
			_, size := utf8.DecodeRuneInString(q[i:])
			plain(q[i : i+size])
			i += size
			continue
		}
		break
	}
	if i == start {
		return text{}, i, nil
	}
	s := b.String()
	lead := len(s) - len(strings.TrimLeftFunc(s, jsSpace))
	trail := len(strings.TrimRightFunc(s, jsSpace))
	if trail < lead {
		trail = lead
	}
	return text{s: s[lead:trail], wild: wild[lead:trail]}, i, nil
}

// escapedKeyword is EscapedKeyword's word after a backslash: or, and, not
// in any case, as written.
func escapedKeyword(q string, i int) string {
	for _, w := range [...]string{"or", "and", "not"} {
		if wordAt(q, i, w) {
			return q[i : i+len(w)]
		}
	}
	return ""
}
