package cloudtrail

import (
	"encoding/binary"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// Elastic's pipeline stores requestParameters and friends as the Painless
// (Java) toString of the parsed map: {k=v, k2=[a, b]}. Elasticsearch builds
// those maps as java.util.HashMap, so entries come out in HashMap bucket
// order. We reproduce it exactly, which keeps wildcard queries written
// against Elastic's strings (e.g. *roleArn=arn:aws:iam::*) meaning the same
// here. The table never shrinks: its size follows the key count before the
// remove-nulls pass deleted any.

// appendJava appends the Java toString of a (remove-nulls filtered) value.
func appendJava(dst []byte, v *fastjson.Value) []byte { return appendJavaHiding(dst, v, "") }

// appendJavaHiding is appendJava without the object's top-level member
// hide, removed from a map whose table was sized with it: the other
// entries keep their order.
func appendJavaHiding(dst []byte, v *fastjson.Value, hide string) []byte {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		dst = append(dst, '{')
		var small [16]javaKV
		n := 0
		for _, kv := range javaOrder(small[:0], o) {
			if hide != "" && kv.k == hide {
				continue
			}
			if n > 0 {
				dst = append(dst, ", "...)
			}
			n++
			dst = append(dst, kv.k...)
			dst = append(dst, '=')
			dst = appendJava(dst, kv.v)
		}
		return append(dst, '}')
	case fastjson.TypeArray:
		a, _ := v.Array()
		dst = append(dst, '[')
		n := 0
		for _, c := range a {
			if missing(c) {
				continue
			}
			if n > 0 {
				dst = append(dst, ", "...)
			}
			n++
			dst = appendJava(dst, c)
		}
		return append(dst, ']')
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return append(dst, b...)
	case fastjson.TypeNumber:
		return appendJavaNumber(dst, v)
	case fastjson.TypeTrue:
		return append(dst, "true"...)
	case fastjson.TypeFalse:
		return append(dst, "false"...)
	}
	return append(dst, "null"...)
}

type javaKV struct {
	k      string
	v      *fastjson.Value
	bucket uint32
}

// javaOrder appends to kvs an object's present entries in java.util.HashMap
// iteration order: by bucket, then by insertion within a bucket. Keys are
// borrowed from the parser, like the event.
func javaOrder(kvs []javaKV, o *fastjson.Object) []javaKV {
	capacity := uint32(16)
	for float64(o.Len()) > 0.75*float64(capacity) {
		capacity *= 2
	}
	o.Visit(func(k []byte, c *fastjson.Value) {
		if missing(c) {
			return
		}
		h := javaHash(b2s(k))
		kvs = append(kvs, javaKV{k: b2s(k), v: c, bucket: (h ^ h>>16) & (capacity - 1)})
	})
	slices.SortStableFunc(kvs, func(a, b javaKV) int { return int(a.bucket) - int(b.bucket) })
	return kvs
}

// javaHash is String.hashCode over UTF-16 code units.
func javaHash(s string) uint32 {
	var h uint32
	for _, r := range s {
		if r >= 0x10000 {
			r1, r2 := utf16.EncodeRune(r)
			h = 31*h + uint32(r1)
			h = 31*h + uint32(r2)
			continue
		}
		h = 31*h + uint32(r)
	}
	return h
}

// appendJavaNumber prints a JSON number as Jackson-parsed Java prints it:
// integers verbatim, decimals as Double.toString.
func appendJavaNumber(dst []byte, v *fastjson.Value) []byte {
	start := len(dst)
	dst = v.MarshalTo(dst)
	if !strings.ContainsAny(string(dst[start:]), ".eE") {
		return dst
	}
	f, _ := strconv.ParseFloat(string(dst[start:]), 64)
	dst = dst[:start]
	abs := math.Abs(f)
	if abs == 0 || (abs >= 1e-3 && abs < 1e7) {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		dst = append(dst, s...)
		if !strings.Contains(s, ".") {
			dst = append(dst, ".0"...)
		}
		return dst
	}
	mant, exp, _ := strings.Cut(strconv.FormatFloat(f, 'E', -1, 64), "E")
	dst = append(dst, mant...)
	if !strings.Contains(mant, ".") {
		dst = append(dst, ".0"...)
	}
	e, _ := strconv.Atoi(exp)
	dst = append(dst, 'E')
	return strconv.AppendInt(dst, int64(e), 10)
}

// javaLen is the length of appendJava's output in UTF-16 code units,
// counted without rendering it: it only decides whether a payload is
// flattened (see flattened), and the order of entries does not change it.
func javaLen(v *fastjson.Value) int {
	var scratch []byte
	return javaLenHiding(v, "", &scratch)
}

// javaLenBound bounds the javaLen of any value whose JSON text is n bytes
// long: each byte renders as at most a few characters (a 3-byte number
// such as 1e6 as 1000000.0, a separator "," as ", "). It lets a payload of
// a small record skip the count (FuzzJavaLen checks the bound).
func javaLenBound(n int) int { return 4*n + 64 }

// javaLenHiding is javaLen of appendJavaHiding's output. Numbers are
// rendered into *scratch: a buffer on the stack would escape (fastjson's
// MarshalTo leaks it), an allocation per number on the hot path.
func javaLenHiding(v *fastjson.Value, hide string, scratch *[]byte) int {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		n, items := 2, 0 // {}
		o.Visit(func(k []byte, c *fastjson.Value) {
			if missing(c) || hide != "" && string(k) == hide {
				return
			}
			if items > 0 {
				n += 2 // ", "
			}
			items++
			n += utf16Len(k) + 1 + javaLenHiding(c, "", scratch) // k=v
		})
		return n
	case fastjson.TypeArray:
		a, _ := v.Array()
		n, items := 2, 0 // []
		for _, c := range a {
			if missing(c) {
				continue
			}
			if items > 0 {
				n += 2
			}
			items++
			n += javaLenHiding(c, "", scratch)
		}
		return n
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return utf16Len(b)
	case fastjson.TypeNumber:
		*scratch = appendJavaNumber((*scratch)[:0], v)
		return len(*scratch)
	case fastjson.TypeFalse:
		return len("false")
	}
	return len("true") // and null
}

// utf16Len counts UTF-16 code units, an invalid byte as one: a rune each,
// and one more for a rune beyond the BMP (a surrogate pair). ASCII, most
// of it, is counted eight bytes at a time.
func utf16Len(s []byte) int {
	i := 0
	for i+8 <= len(s) && binary.LittleEndian.Uint64(s[i:])&0x8080808080808080 == 0 {
		i += 8
	}
	for i < len(s) && s[i] < utf8.RuneSelf {
		i++
	}
	n := i
	for i < len(s) {
		r, size := utf8.DecodeRune(s[i:])
		i += size
		n++
		if r >= 0x10000 {
			n++
		}
	}
	return n
}
