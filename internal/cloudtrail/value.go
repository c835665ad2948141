package cloudtrail

import (
	"strconv"
	"strings"

	"github.com/valyala/fastjson"
)

// Kind tells which of a Value's fields carries its data.
type Kind uint8

const (
	String Kind = iota + 1
	Number
	Bool
)

func (k Kind) String() string {
	switch k {
	case String:
		return "string"
	case Number:
		return "number"
	case Bool:
		return "bool"
	}
	return "invalid"
}

// Value is one value of an ECS field. Str always holds the text form (the
// number as written, "true"/"false"), so keyword matching needs no
// conversion; Num holds a Number's value.
// Str may point into the decoder's buffers: it is valid only until the next
// event is decoded. Copy it (strings.Clone) to keep it.
//
// internal/rules hands these values to kql as kql.Value without copying
// them, so the two keep one layout and one numbering of kinds; rules checks
// that at compile time.
type Value struct {
	Kind Kind
	Str  string
	Num  float64
}

// StringValue is a Value of kind String.
func StringValue(s string) Value { return Value{Kind: String, Str: s} }

// missing reports whether v counts as absent under Elastic's remove-nulls
// pass: null, "", "-", "none", and objects or arrays that are empty once
// those are removed.
func missing(v *fastjson.Value) bool {
	if v == nil {
		return true
	}
	switch v.Type() {
	case fastjson.TypeNull:
		return true
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return len(b) == 0 || string(b) == "-" || string(b) == "none"
	case fastjson.TypeObject:
		o, _ := v.Object()
		empty := true
		o.Visit(func(_ []byte, c *fastjson.Value) {
			if empty && !missing(c) {
				empty = false
			}
		})
		return empty
	case fastjson.TypeArray:
		a, _ := v.Array()
		for _, c := range a {
			if !missing(c) {
				return false
			}
		}
		return true
	}
	return false
}

// scalar converts a JSON leaf into a Value; ok is false for missing values,
// objects and arrays. Numbers keep their literal text, formatted into buf.
func (e *Event) scalar(v *fastjson.Value) (Value, bool) {
	if missing(v) {
		return Value{}, false
	}
	switch v.Type() {
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return Value{Kind: String, Str: b2s(b)}, true
	case fastjson.TypeNumber:
		start := len(e.buf)
		e.buf = v.MarshalTo(e.buf)
		s := b2s(e.buf[start:])
		f, _ := strconv.ParseFloat(s, 64)
		return Value{Kind: Number, Str: s, Num: f}, true
	case fastjson.TypeTrue:
		return Value{Kind: Bool, Str: "true"}, true
	case fastjson.TypeFalse:
		return Value{Kind: Bool, Str: "false"}, true
	}
	return Value{}, false
}

// any converts a Value into the plain Go form used in documents, copied out
// of the decoder's buffers.
func (v Value) any() any {
	switch v.Kind {
	case Number:
		if i, err := strconv.ParseInt(v.Str, 10, 64); err == nil {
			return i
		}
		return v.Num
	case Bool:
		return v.Str == "true"
	}
	return strings.Clone(v.Str)
}

func boolValue(b bool) Value {
	if b {
		return Value{Kind: Bool, Str: "true"}
	}
	return Value{Kind: Bool, Str: "false"}
}
