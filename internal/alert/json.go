package alert

import (
	"encoding/binary"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/newterms/newterms/internal/cloudtrail"
)

// writer appends JSON: the documents are built by appending, without maps
// or reflection. fastjson's own marshalling was the candidate library (it
// is already a dependency), but it quotes strings with strconv.AppendQuote,
// whose \x escapes are not JSON, and passes invalid UTF-8 through; the
// standard library's appending quoter (encoding/json/jsontext.AppendQuote)
// exists only under GOEXPERIMENT=jsonv2. So the escaper is ours, and its
// output is encoding/json's, byte for byte (HTML left alone).
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

// Name writes a key that needs no escaping (cloudtrail.Sink.Name).
func (w *writer) Name(k string) {
	w.sep()
	w.buf = append(w.buf, '"')
	w.buf = append(w.buf, k...)
	w.buf = append(w.buf, '"', ':')
	w.comma = false
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
	case v.Kind == cloudtrail.Bool: // Str is "true" or "false"
		w.buf = append(w.buf, v.Str...)
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

// Time writes t, in UTC, as time.RFC3339Nano does, or with milliseconds
// always, as Elasticsearch prints dates ("2006-01-02T15:04:05.000Z").
func (w *writer) Time(t time.Time, millis bool) {
	w.sep()
	w.buf = append(w.buf, '"')
	w.buf = appendTime(w.buf, t.UTC(), millis)
	w.buf = append(w.buf, '"')
	w.comma = true
}

// appendTime is Time's formatting: time.AppendFormat reads its layout
// anew on every call, which cost more than writing the digits.
func appendTime(dst []byte, t time.Time, millis bool) []byte {
	y, mo, d := t.Date()
	if y < 0 || y > 9999 { // beyond what an event's time can be
		if millis {
			return t.AppendFormat(dst, "2006-01-02T15:04:05.000Z07:00")
		}
		return t.AppendFormat(dst, time.RFC3339Nano)
	}
	h, mi, s := t.Clock()
	dst = appendDigits(dst, y, 4)
	dst = append(dst, '-')
	dst = appendDigits(dst, int(mo), 2)
	dst = append(dst, '-')
	dst = appendDigits(dst, d, 2)
	dst = append(dst, 'T')
	dst = appendDigits(dst, h, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, mi, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, s, 2)
	switch ns := t.Nanosecond(); {
	case millis:
		dst = append(dst, '.')
		dst = appendDigits(dst, ns/1e6, 3)
	case ns != 0:
		n := 9
		for ns%10 == 0 {
			ns /= 10
			n--
		}
		dst = append(dst, '.')
		dst = appendDigits(dst, ns, n)
	}
	return append(dst, 'Z')
}

// appendDigits appends v, not negative, in at least width digits.
func appendDigits(dst []byte, v, width int) []byte {
	var b [20]byte
	i := len(b)
	for v >= 10 || width > 1 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		width--
	}
	i--
	b[i] = byte('0' + v)
	return append(dst, b[i:]...)
}

// Raw writes what is already encoded: a value, or members of the object
// being written. It may be a part of w.buf.
func (w *writer) Raw(b []byte) {
	w.sep()
	w.buf = append(w.buf, b...)
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
	// Most strings need no escape: find out quickly, eight bytes at a time.
	b := unsafe.Slice(unsafe.StringData(s), len(s))
	i := 0
	for i+16 <= len(b) && unsafe8(binary.LittleEndian.Uint64(b[i:]))|unsafe8(binary.LittleEndian.Uint64(b[i+8:])) == 0 {
		i += 16
	}
	for i+8 <= len(b) && unsafe8(binary.LittleEndian.Uint64(b[i:])) == 0 {
		i += 8
	}
	switch {
	case i == len(b):
	case len(b)-i < 8 && len(b) >= 8 && unsafe8(binary.LittleEndian.Uint64(b[len(b)-8:])) == 0: // the rest, in the last word
	default:
		for i < len(s) && safe[s[i]] {
			i++
		}
		if i < len(s) {
			return escape(dst, s, i)
		}
	}
	dst = append(dst, s...)
	return append(dst, '"')
}

// escape appends the rest of appendString's work on s from i, the first
// byte that needs a look.
func escape(dst []byte, s string, i int) []byte {
	b := unsafe.Slice(unsafe.StringData(s), len(s))
	start := 0
	for i < len(s) {
		for i+8 <= len(b) && unsafe8(binary.LittleEndian.Uint64(b[i:])) == 0 {
			i += 8
		}
		if i == len(s) {
			break
		}
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

// unsafe8 is zero when eight bytes are all ASCII, printable, and neither
// '"' nor '\\'. (The classic SWAR test: (y - ones) &^ y has a byte's high
// bit set where y has a zero byte, when no byte of y has its own set; so
// with n*ones in place of ones, where a byte is below n.)
func unsafe8(x uint64) uint64 {
	const ones = 0x0101010101010101
	q, bs := x^('"'*ones), x^('\\'*ones)
	return (x | (x-0x20*ones)&^x | (q-ones)&^q | (bs-ones)&^bs) & (0x80 * ones)
}

const hexDigits = "0123456789abcdef"

// safe are the bytes copied as they are when alone: printable ASCII but
// '"' and '\\'.
var safe = func() (t [256]bool) {
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
