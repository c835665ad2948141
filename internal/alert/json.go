package alert

import (
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/newterms/newterms/internal/cloudtrail"
)

// writer appends JSON: the documents are built by appending, without maps
// or reflection. fastjson's own marshalling was the candidate library (it
// is already a dependency), but it quotes strings with strconv.AppendQuote,
// whose \x escapes are not JSON, and passes invalid UTF-8 through; nothing
// else that appends without reflection is among our dependencies. So the
// escaper is ours, and its output is encoding/json's (HTML left alone).
//
// writer is a cloudtrail.Sink: Event.Walk streams the ECS document into it.
type writer struct {
	buf []byte
	// comma: the next key or element needs a comma before it.
	comma bool
}

func (w *writer) sep() {
	if w.comma {
		w.buf = append(w.buf, ',')
	}
}

func (w *writer) Key(k string) {
	w.sep()
	w.buf = appendString(w.buf, k)
	w.buf = append(w.buf, ':')
	w.comma = false
}

func (w *writer) Begin(array bool) {
	w.sep()
	if array {
		w.buf = append(w.buf, '[')
	} else {
		w.buf = append(w.buf, '{')
	}
	w.comma = false
}

func (w *writer) End(array bool) {
	if array {
		w.buf = append(w.buf, ']')
	} else {
		w.buf = append(w.buf, '}')
	}
	w.comma = true
}

// Value writes a scalar. A number is written as the record wrote it when
// that is a JSON number a float64 holds. Others are written as strings of
// their text, so that the document stays JSON that every consumer can read:
// fastjson also accepts NaN, Inf, +1, 01 and the like, and 1e400 is JSON
// that encoding/json and Elasticsearch refuse as a number.
func (w *writer) Value(v cloudtrail.Value) {
	w.sep()
	switch {
	case v.Kind == cloudtrail.Number && isNumber(v.Str) && !math.IsInf(v.Num, 0):
		w.buf = append(w.buf, v.Str...)
	case v.Kind == cloudtrail.Bool:
		w.buf = strconv.AppendBool(w.buf, v.Bool)
	default:
		w.buf = appendString(w.buf, v.Str)
	}
	w.comma = true
}

func (w *writer) String(s string) {
	w.sep()
	w.buf = appendString(w.buf, s)
	w.comma = true
}

func (w *writer) Int(n int64) {
	w.sep()
	w.buf = strconv.AppendInt(w.buf, n, 10)
	w.comma = true
}

func (w *writer) Null() {
	w.sep()
	w.buf = append(w.buf, "null"...)
	w.comma = true
}

// Strings writes an array of strings; nil is null, as encoding/json has it.
func (w *writer) Strings(list []string) {
	if list == nil {
		w.Null()
		return
	}
	w.Begin(true)
	for _, s := range list {
		w.String(s)
	}
	w.End(true)
}

// appendString appends s as a JSON string exactly as encoding/json writes
// it with SetEscapeHTML(false): the two-character escapes for \ and ",
// \b \f \n \r \t; \u00XX for the other control characters; \u2028 and
// \u2029 (JavaScript's line terminators); each byte of invalid UTF-8 as
// \ufffd. Everything else is copied.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if safe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"

// safe are the ASCII bytes copied as they are.
var safe = func() (t [utf8.RuneSelf]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// isNumber reports whether s is a number in JSON's grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func isNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		i = digits(s, i)
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		j := digits(s, i+1)
		if j == i+1 {
			return false
		}
		i = j
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := digits(s, i)
		if j == i {
			return false
		}
		i = j
	}
	return i == len(s)
}

func digits(s string, i int) int {
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	return i
}
