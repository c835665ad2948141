package cloudtrail

import (
	"testing"

	"github.com/valyala/fastjson"
)

// javaLenRendered is javaLen as it was: the rendering, measured.
func javaLenRendered(v *fastjson.Value) int { return utf16Len(appendJava(nil, v)) }

var javaLenValues = []string{
	`{}`, `[]`, `"é𝄞\u00ff"`, `{"a":null,"b":"-","c":[null,"none",1.5e7,1e-4,0.5,-0,10,1E2],"d":{"x":""},"𝄞":true,"f":false}`,
	`[{"k":[[],{}]},"x",NaN,+1,1e400]`, `{"k":1,"k":2}`,
}

// javaLen, which counts, gives the length of what appendJava renders.
func TestJavaLen(t *testing.T) {
	var vals []*fastjson.Value
	for _, s := range javaLenValues {
		vals = append(vals, fastjson.MustParse(s))
	}
	for _, rec := range readEvents(t) {
		v := fastjson.MustParseBytes(rec)
		for _, p := range flattenedPrefixes {
			if c := v.Get(p.src...); c != nil {
				vals = append(vals, c)
			}
		}
		vals = append(vals, v)
	}
	for _, v := range vals {
		if got, want := javaLen(v), javaLenRendered(v); got != want {
			t.Errorf("%s: %d, rendered %d", v, got, want)
		}
	}
	// Short texts that the Java rendering lengthens most, against the
	// bound flattened relies on.
	for _, s := range []string{`1e6`, `[1e6,9e6,1e6]`, `[inf,1e400,NaN]`, `{"":1e6}`, `[0,0,0,0]`, `[[],[],[]]`, `[{},{}]`} {
		v, err := fastjson.Parse(s)
		if err != nil {
			continue // not every one parses
		}
		if n := javaLen(v); n > javaLenBound(len(s)) {
			t.Errorf("%s: %d, more than the bound %d", s, n, javaLenBound(len(s)))
		}
	}
}

func FuzzJavaLen(f *testing.F) {
	for _, s := range javaLenValues {
		f.Add([]byte(s))
	}
	for _, rec := range readEvents(f) {
		f.Add(rec)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := fastjson.ParseBytes(data)
		if err != nil {
			return
		}
		if got, want := javaLen(v), javaLenRendered(v); got != want {
			t.Fatalf("%s: %d, rendered %d", data, got, want)
		}
		// The bound that lets a small record skip the count (flattened).
		if n := javaLen(v); n > javaLenBound(len(data)) {
			t.Fatalf("%s: %d, more than the bound %d of its %d bytes", data, n, javaLenBound(len(data)), len(data))
		}
	})
}
