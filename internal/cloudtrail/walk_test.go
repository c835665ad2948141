package cloudtrail

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"testing"

	"github.com/newterms/newterms/internal/testsupport"
)

// mapSink rebuilds the document Walk streams, as maps, and fails on a key
// given twice in one object (an object opened twice, or a payload key left
// repeated).
type mapSink struct {
	t     testing.TB
	stack []any // *map[string]any or *[]any
	keys  []string
}

func newMapSink(t testing.TB) *mapSink {
	root := map[string]any{}
	return &mapSink{t: t, stack: []any{&root}, keys: []string{""}}
}

func (s *mapSink) root() map[string]any { return *s.stack[0].(*map[string]any) }

func (s *mapSink) Key(k string) { s.keys[len(s.keys)-1] = k }

func (s *mapSink) Name(k string) {
	if !plainName.MatchString(k) {
		s.t.Fatalf("Name(%q) needs escaping", k)
	}
	s.Key(k)
}

// plainName is what Sink.Name promises.
var plainName = regexp.MustCompile(`^[A-Za-z0-9_@]+$`)

// Every name of the document's own is plain, as Sink.Name promises, also
// the ones no test record has.
func TestNamesArePlain(t *testing.T) {
	for _, d := range docEntries {
		for _, seg := range d.segs {
			if !plainName.MatchString(seg) {
				t.Errorf("%s: %q is not plain", d.path, seg)
			}
		}
	}
}

func (s *mapSink) add(v any) {
	switch top := s.stack[len(s.stack)-1].(type) {
	case *map[string]any:
		k := s.keys[len(s.keys)-1]
		if _, dup := (*top)[k]; dup {
			s.t.Fatalf("key %q twice", k)
		}
		(*top)[k] = v
	case *[]any:
		*top = append(*top, v)
	}
}

func (s *mapSink) Begin(array bool) {
	if array {
		s.stack = append(s.stack, &[]any{})
	} else {
		s.stack = append(s.stack, &map[string]any{})
	}
	s.keys = append(s.keys, "")
}

func (s *mapSink) End(array bool) {
	top := s.stack[len(s.stack)-1]
	s.stack, s.keys = s.stack[:len(s.stack)-1], s.keys[:len(s.keys)-1]
	switch c := top.(type) {
	case *map[string]any:
		if array {
			s.t.Fatal("an object closed as an array")
		}
		s.add(*c)
	case *[]any:
		if !array {
			s.t.Fatal("an array closed as an object")
		}
		s.add(*c)
	}
}

func (s *mapSink) Value(v Value) {
	switch v.Kind {
	case String:
		s.add(v.Str)
	case Number:
		s.add(numText(v.Str))
	case Bool:
		s.add(v.Str == "true")
	default:
		s.t.Fatalf("value of kind %d", v.Kind)
	}
}

// num is a number's value, however it was written: Document holds int64,
// float64 or json.Number, Walk the text.
type num string

func num64(f float64) num { return num(strconv.FormatFloat(f, 'g', -1, 64)) }

func numText(s string) num {
	f, _ := strconv.ParseFloat(s, 64) // Document's values come from the same parse
	return num64(f)
}

// canonical turns Document's numbers into numbers.
func canonical(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, c := range t {
			out[k] = canonical(c)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, c := range t {
			out[i] = canonical(c)
		}
		return out
	case int64:
		return num64(float64(t))
	case float64:
		return num64(t)
	case json.Number:
		return numText(string(t))
	}
	return v
}

func walkDoc(t testing.TB, ev *Event, extra []Extra) map[string]any {
	s := newMapSink(t)
	ev.Walk(s, extra)
	if len(s.stack) != 1 {
		t.Fatalf("%d objects or arrays left open", len(s.stack)-1)
	}
	return s.root()
}

// walkRecords are records whose payloads hold what Document drops or
// merges: nulls and "-" at every depth, repeated keys, resources with both
// spellings of a key, numbers fastjson reads that JSON does not have.
var walkRecords = []string{
	`{"eventVersion":"1.08","eventTime":"2026-03-01T20:00:00Z","eventName":"X","eventSource":"s","requestParameters":{"k":1,"k":2,"n":null,"o":{"x":"-"},"k":null,"l":[null,"none",{"y":""},[1,"\u0001\ud800"]]},"responseElements":{"a":{"b":{"c":NaN,"d":+1,"e":01}}}}`,
	`{"eventVersion":NaN,"eventName":"X","readOnly":1e400,"userIdentity":{"type":"IAMUser","accountId":1.2.3}}`,
	`{"eventVersion":"1.08","eventName":"X","resources":[{"ARN":"a","arn":"b","accountId":"1"},{"ARN":"a","arn":"b","accountId":"1"},{},{"type":null},{"x":{"y":[]}},"str",{"arn":"c","ARN":null}]}`,
	`{"eventVersion":"1.08","eventName":"X","requestParameters":"a string","responseElements":[1,{"z":null}],"additionalEventData":true,"serviceEventDetails":-0.5e-3}`,
	// UserName moves to user.name: the flattened payload goes when it held nothing else.
	`{"eventVersion":"1.09","eventName":"UserAuthentication","userIdentity":{"type":"IdentityCenterUser"},"additionalEventData":{"UserName":"u@example.com","x":null},"userAgent":["a",1,"b"]}`,
	`{"eventVersion":"1.09","eventName":"UserAuthentication","additionalEventData":{"UserName":"u","LoginTo":"l","UserName":"v"}}`,
	`{"eventVersion":"1.08","eventName":"AssumeRoleWithWebIdentity","userIdentity":{"type":"WebIdentityUser","sessionContext":{"webIdFederationData":{"federatedProvider":"p","attributes":{"sub":"s","a.b":[1,null,"c"],"e":{}}}}}}`,
}

// Walk streams the content Document builds, on the fixtures, on records
// with odd payloads, and on Elastic's pipeline test inputs.
func TestWalkIsDocument(t *testing.T) {
	recs := readEvents(t)
	for _, r := range walkRecords {
		recs = append(recs, []byte(r))
	}
	walkAll(t, recs)
	t.Run("synthetic", func(t *testing.T) {
		var recs [][]byte
		for _, id := range identities {
			recs = append(recs, []byte(record(id.json, "sts", "AssumeRole", `"requestParameters":{"roleArn":"arn:aws:iam::1:role/r"}`)))
		}
		for _, ev := range entityEvents {
			recs = append(recs, []byte(record(identities[1].json, ev.source, ev.name, ev.json)))
		}
		walkAll(t, recs)
	})
	t.Run("elastic", func(t *testing.T) {
		inputs, _ := filepath.Glob(filepath.Join(testsupport.Shared(t, "fixtures/elastic-cloudtrail"), "*.log"))
		var recs [][]byte
		for _, in := range inputs {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, bytes.Split(bytes.TrimSpace(data), []byte("\n"))...)
		}
		walkAll(t, recs)
	})
}

func walkAll(t *testing.T, recs [][]byte) {
	d := NewDecoder(Options{})
	n := 0
	for i, rec := range recs {
		d.Decode(rec, func(ev *Event) {
			n++
			if got, want := walkDoc(t, ev, nil), canonical(ev.Document()); !reflect.DeepEqual(got, want) {
				t.Errorf("record %d:\n got %v\nwant %v", i, got, want)
			}
		})
	}
	if n < len(recs)*9/10 {
		t.Fatalf("%d events from %d records", n, len(recs))
	}
}

// Extras are merged at their paths: one replaces a field, the others add
// members to existing objects, to new ones, before and after every field.
func TestWalkExtra(t *testing.T) {
	rec := readEvents(t)[11]
	extra := []Extra{
		{"!first", StringValue("a")},
		{"event.kind", StringValue("alert")},
		{"event.original", StringValue("{}")},
		{"source.as.number", Value{Kind: Number, Str: "16509"}},
		{"source.as.organization.name", StringValue("Amazon")},
		{"zz.a.b.c.d.e.f.g.h.i.j", StringValue("deeper than any field")},
		{"zz.last.one", Value{Kind: Bool, Str: "true"}},
	}
	NewDecoder(Options{}).Decode(rec, func(ev *Event) {
		want := ev.Document()
		for _, x := range extra {
			var v any = x.Value.Str
			switch x.Value.Kind {
			case Number:
				v = json.Number(x.Value.Str)
			case Bool:
				v = x.Value.Str == "true"
			}
			setPath(want, x.Path, v)
		}
		if got := walkDoc(t, ev, extra); !reflect.DeepEqual(got, canonical(want)) {
			t.Errorf("\n got %v\nwant %v", got, canonical(want))
		}
	})
}

// FuzzWalk: for any input, Walk streams what Document builds.
func FuzzWalk(f *testing.F) {
	for _, r := range readEvents(f) {
		f.Add(r)
	}
	for _, r := range walkRecords {
		f.Add([]byte(r))
	}
	d := NewDecoder(Options{MaxRecordSize: 1 << 16})
	f.Fuzz(func(t *testing.T, data []byte) {
		d.Decode(data, func(ev *Event) {
			if got, want := walkDoc(t, ev, nil), canonical(ev.Document()); !reflect.DeepEqual(got, want) {
				t.Fatalf("\n got %v\nwant %v", fmt.Sprint(got), fmt.Sprint(want))
			}
		})
	})
}
