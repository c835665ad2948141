package alert

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/newterms/newterms/internal/cloudtrail"
	"github.com/newterms/newterms/internal/rules"
	"github.com/newterms/newterms/internal/synth"
	"github.com/newterms/newterms/internal/testsupport"
)

func TestID(t *testing.T) {
	base := ID("rule:abc", []string{"arn:aws:iam::1:role/x", "16509"}, "ev-1")
	if len(base) != 32 || base != ID("rule:abc", []string{"arn:aws:iam::1:role/x", "16509"}, "ev-1") {
		t.Fatalf("not deterministic: %s", base)
	}
	for _, other := range []string{
		ID("rule:abd", []string{"arn:aws:iam::1:role/x", "16509"}, "ev-1"),
		ID("rule:abc", []string{"arn:aws:iam::1:role/x", "16508"}, "ev-1"),
		ID("rule:abc", []string{"arn:aws:iam::1:role/x16509", ""}, "ev-1"),
		ID("rule:abc", []string{"arn:aws:iam::1:role/x", "16509"}, "ev-2"),
	} {
		if other == base {
			t.Errorf("collision with %s", other)
		}
	}
	// Ids already delivered must not change: downstream deduplicates on them.
	long := strings.Repeat("v", 600) // past appendID's stack buffer
	for _, c := range [][]string{{"arn:aws:iam::1:role/x", "16509"}, {long, "é\x00"}, nil} {
		if got, want := ID("rule:abc", c, "ev-1"), referenceID("rule:abc", c, "ev-1"); got != want {
			t.Errorf("%q: %s, was %s", c, got, want)
		}
	}
}

func TestDays(t *testing.T) {
	for w, want := range map[time.Duration]string{24 * time.Hour: "day", 240 * time.Hour: "10 days", 90 * time.Minute: "1h30m0s"} {
		if got := string(appendDays(nil, w)); got != want {
			t.Errorf("%v: %s, want %s", w, got, want)
		}
	}
}

// The example of docs/alerts.md is what Append writes for that event of
// the bundled sample.
func TestDocsExample(t *testing.T) {
	md, err := os.ReadFile("../../docs/alerts.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, _ := strings.Cut(string(md), "```json\n")
	block, _, _ = strings.Cut(block, "```")
	want := decode(t, []byte(block))
	data := testsupport.Gunzip(t, "../../testdata/cloudtrail/sample.ndjson.gz")
	in := Input{Rule: seedRule(t), Tuple: []string{"arn:aws:iam::111122223333:role/payments-api", "14061"},
		Enrichment: rules.Enrichment{HasAS: true, ASNumber: 14061, ASOrg: "DigitalOcean, LLC"}}
	var got []byte
	d := cloudtrail.NewDecoder(cloudtrail.Options{})
	for line := range bytes.Lines(data) {
		if !bytes.Contains(line, []byte(`"000007ea-0000-4000-8000-000000000c34"`)) {
			continue
		}
		d.Decode(line, func(ev *cloudtrail.Event) {
			in.Event = ev
			var b Builder
			got = b.Append(nil, in)
		})
	}
	if got == nil {
		t.Fatal("the example's event is not in the sample")
	}
	if doc := decode(t, got); !reflect.DeepEqual(doc, want) {
		t.Errorf("docs/alerts.md's example is not what Append writes:\n%s", diffDocs(doc, want))
	}
}

// appendTime writes what time.Format writes with the two layouts it
// replaces, for times across the years Parse accepts and every precision.
func TestAppendTime(t *testing.T) {
	times := []time.Time{{}, time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(2026, 3, 1, 20, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 1, 20, 0, 0, 100, time.UTC), time.Date(2026, 3, 1, 20, 0, 0, 120000000, time.UTC), time.Date(2026, 3, 1, 20, 0, 0, 1, time.FixedZone("x", 3600))}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var ns int64
		switch rng.IntN(4) {
		case 1:
			ns = rng.Int64N(1000) * 1e6
		case 2:
			ns = rng.Int64N(1e9)
		case 3:
			ns = rng.Int64N(1e6) * 1e3
		}
		// From year 0 to the end of 9999, and a few beyond.
		times = append(times, time.Unix(rng.Int64N(315537897600+1e10)-62167219200-5e9, ns))
	}
	for _, tm := range times {
		for _, c := range []struct {
			millis bool
			layout string
		}{{false, time.RFC3339Nano}, {true, "2006-01-02T15:04:05.000Z07:00"}} {
			var w writer
			w.Time(tm, c.millis)
			if want := `"` + tm.UTC().Format(c.layout) + `"`; string(w.buf) != want {
				t.Fatalf("%v: %s, want %s", tm, w.buf, want)
			}
		}
	}
}

// testRules are conf/rules and an inline rule on three fields, one of them
// flattened, whose metadata is mostly empty (nil tags and threat).
func testRules(t testing.TB) []*rules.Rule {
	t.Helper()
	inline, err := rules.Inline("", "inline \"odd\" <rule>", `event.action: *`, []string{"user.name", "aws.cloudtrail.flattened.request_parameters.roleArn", "source.as.number"}, "now-90m")
	if err != nil {
		t.Fatal(err)
	}
	set, rep, err := rules.LoadWith([]*rules.Rule{inline}, "../../conf/rules")
	if err != nil || len(rep.Failed) > 0 {
		t.Fatalf("rules: %v %v", err, rep.Failed)
	}
	return set.Rules()
}

// oddValues are tuple values that the escaper must get right.
var oddValues = []string{"q\"uote\\back/slash", "line\nsep\u2028par\u2029 tab\t ctl\x01\x1f del\x7f", "<&> é ✓ 𝄞", "bad\xff\xfeutf8", ""}

// testInputs are alert inputs over the events of records: for each event,
// the real tuples of the rules it matches, and for one rule in turn,
// values of every awkward kind; enrichment and event.original vary.
func testInputs(t testing.TB, recs [][]byte, fn func(name string, in Input)) {
	t.Helper()
	rs := testRules(t)
	set, err := rules.NewSet(rs)
	if err != nil {
		t.Fatal(err)
	}
	doc := set.NewDoc()
	enrich := []rules.Enrichment{{}, {HasAS: true, ASNumber: 16509}, {HasAS: true, ASNumber: 4294967295, ASOrg: "Org \"Q\" <&> é\u2028"}}
	d := cloudtrail.NewDecoder(cloudtrail.Options{})
	n := 0
	for i, rec := range recs {
		d.Decode(rec, func(ev *cloudtrail.Event) {
			n++
			enr := enrich[n%len(enrich)]
			orig := n%2 == 0
			doc.Reset(ev, enr)
			set.Match(doc, func(r *rules.Rule) {
				r.Terms(doc, 4, func(tuple []string) {
					fn(fmt.Sprintf("record %d %s %q", i, r.ID, tuple), Input{Rule: r, Tuple: slices.Clone(tuple), Event: ev, Enrichment: enr, IncludeOriginal: orig})
				})
			})
			r := rs[n%len(rs)]
			tuple := make([]string, len(r.Fields))
			for j := range tuple {
				tuple[j] = oddValues[(n+j)%len(oddValues)]
			}
			fn(fmt.Sprintf("record %d %s odd values", i, r.ID), Input{Rule: r, Tuple: tuple, Event: ev, Enrichment: enr, IncludeOriginal: !orig})
		})
	}
}

// synthRecords are generated records, alone and in envelopes.
func synthRecords() [][]byte {
	var recs [][]byte
	for _, ev := range synth.Stream(synth.Options{Seed: 11, Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Days: 3, Events: 400}) {
		recs = append(recs, ev.JSON)
	}
	return append(recs,
		synth.S3Log(recs[0], recs[1]), synth.EventBridge(recs[2]), synth.CloudWatchLogs(recs[3]),
		synth.Firehose(synth.Base64(synth.Gzip(recs[4]))), synth.LookupEvents(recs[5]), synth.SNS(recs[6]))
}

func decode(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return m
}

// Append's document is the one the old builder made (reference), apart
// from the kibana.* fields it adds, which hold exactly what the rule, the
// tuple and the rest of the document say they should.
func TestAppendMatchesReference(t *testing.T) {
	sets := map[string][][]byte{"fixtures": fixtureEvents(t), "synth": synthRecords()}
	for name, recs := range sets {
		t.Run(name, func(t *testing.T) {
			compareAll(t, recs)
		})
	}
	t.Run("elastic", func(t *testing.T) {
		inputs, _ := filepath.Glob(filepath.Join(testsupport.Shared(t, "fixtures/elastic-cloudtrail"), "*.log"))
		var recs [][]byte
		for _, in := range inputs {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			for line := range bytes.Lines(data) {
				if line = bytes.TrimSpace(line); len(line) > 0 {
					recs = append(recs, line)
				}
			}
		}
		compareAll(t, recs)
	})
}

func compareAll(t *testing.T, recs [][]byte) {
	count := 0
	var b Builder // one for all, as the engine has: each rule's part is made once
	testInputs(t, recs, func(name string, in Input) {
		count++
		got := b.Append([]byte("prefix"), in)
		if !bytes.HasPrefix(got, []byte("prefix")) {
			t.Fatalf("%s: dst not extended: %s", name, got)
		}
		got = got[len("prefix"):]
		if !json.Valid(got) {
			t.Fatalf("%s: not JSON: %s", name, got)
		}
		want, err := reference(in)
		if err != nil {
			t.Fatalf("%s: reference: %v", name, err)
		}
		doc := decode(t, got)
		checkKibana(t, name, in, doc, got)
		delete(doc, "kibana")
		if ref := decode(t, want); !reflect.DeepEqual(doc, ref) {
			t.Fatalf("%s: differs from the reference:\n%s", name, diffDocs(doc, ref))
		}
	})
	if count < len(recs) {
		t.Fatalf("only %d inputs from %d records", count, len(recs))
	}
	t.Logf("%d alerts from %d records compared", count, len(recs))
}

// checkKibana compares the kibana.* fields with what they should be, and
// checks that newterms.terms lists the fields in the rule's order.
func checkKibana(t *testing.T, name string, in Input, doc map[string]any, raw []byte) {
	t.Helper()
	r := in.Rule
	nt := doc["newterms"].(map[string]any)
	list := func(s []string) []any {
		out := []any{}
		for _, v := range s {
			out = append(out, v)
		}
		return out
	}
	rule := map[string]any{
		"name":       r.Name,
		"parameters": map[string]any{"history_window_start": r.WindowText, "new_terms_fields": list(r.Fields)},
		"rule_id":    r.ID,
		"tags":       list(r.Tags),
		"type":       "new_terms",
		"uuid":       r.ID,
	}
	want := map[string]any{"alert": map[string]any{
		"new_terms":     list(in.Tuple),
		"original_time": doc["@timestamp"],
		"reason":        doc["message"],
		"risk_score":    float64(r.RiskScore),
		"rule":          rule,
		"severity":      r.Severity,
		"uuid":          nt["alert_id"],
	}}
	if _, ok := doc["@timestamp"]; !ok {
		delete(want["alert"].(map[string]any), "original_time")
	}
	// Through JSON, as the document went: invalid UTF-8 becomes U+FFFD.
	b, _ := json.Marshal(want)
	want = decode(t, b)
	if !reflect.DeepEqual(doc["kibana"], want) {
		t.Fatalf("%s: kibana:\n%s", name, diffDocs(map[string]any{"kibana": doc["kibana"]}, map[string]any{"kibana": want}))
	}
	if keys := objectKeys(t, raw, "newterms", "terms"); !slices.Equal(keys, r.Fields) {
		t.Fatalf("%s: newterms.terms keys %q, want the rule's %q", name, keys, r.Fields)
	}
}

// objectKeys lists, in the text's order, the keys of the object at path.
func objectKeys(t *testing.T, raw []byte, path ...string) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	var walk func(depth int) []string
	// walk reads one value; inside the object at path it returns its keys.
	walk = func(depth int) []string {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		switch tok {
		case json.Delim('{'):
			var keys, found []string
			for dec.More() {
				k, _ := dec.Token()
				keys = append(keys, k.(string))
				next := -1
				if depth >= 0 && depth < len(path) && k == path[depth] {
					next = depth + 1
				}
				if f := walk(next); f != nil {
					found = f
				}
			}
			dec.Token()
			if depth == len(path) {
				return keys
			}
			return found
		case json.Delim('['):
			for dec.More() {
				walk(-1)
			}
			dec.Token()
		}
		return nil
	}
	return walk(0)
}

// diffDocs lists the leaves in which two decoded documents differ.
func diffDocs(a, b map[string]any) string {
	fa, fb := map[string]string{}, map[string]string{}
	flatten("", a, fa)
	flatten("", b, fb)
	var out []string
	for k, v := range fa {
		if fb[k] != v {
			out = append(out, fmt.Sprintf("  %s: %s, want %s", k, v, fb[k]))
		}
	}
	for k, v := range fb {
		if _, ok := fa[k]; !ok {
			out = append(out, fmt.Sprintf("  %s: missing, want %s", k, v))
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

func flatten(prefix string, v any, out map[string]string) {
	if m, ok := v.(map[string]any); ok {
		for k, c := range m {
			flatten(prefix+"/"+k, c, out)
		}
		return
	}
	b, _ := json.Marshal(v)
	out[prefix] = string(b)
}

// encodingJSON is s as encoding/json writes it with HTML left alone: what
// appendString must write, byte for byte.
func encodingJSON(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // a string always encodes
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func TestAppendString(t *testing.T) {
	cases := append(slices.Clone(oddValues), "", "plain", "\x00", "\\\"", "\u2027\u202a", "\xed\xa0\x80", "\xf4\x90\x80\x80", "trailing\xe2\x80")
	// Each byte that needs a look, at every place of an 8-byte word.
	for _, c := range []string{"\x00", "\x1f", " ", "\"", "\\", "\x7f", "\x80", "é", "\u2028", "\xff"} {
		for at := range 18 {
			cases = append(cases, strings.Repeat("a", at)+c+"bcdefghijklmnopq")
		}
	}
	for _, s := range cases {
		if got, want := appendString(nil, s), encodingJSON(s); !bytes.Equal(got, want) {
			t.Errorf("%q: %s, want %s", s, got, want)
		}
	}
}

// FuzzAppendString: any byte string comes out as encoding/json writes it,
// and decodes to itself when it is valid UTF-8.
func FuzzAppendString(f *testing.F) {
	for _, s := range oddValues {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := appendString([]byte("x"), s)[1:]
		if want := encodingJSON(s); !bytes.Equal(got, want) {
			t.Fatalf("%q: %s, encoding/json %s", s, got, want)
		}
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q: %s: %v", s, got, err)
		}
		if utf8.ValidString(s) && back != s {
			t.Fatalf("%q came back as %q", s, back)
		}
	})
}

// FuzzIsNumber: isNumber accepts exactly JSON's numbers.
func FuzzIsNumber(f *testing.F) {
	for _, s := range []string{"0", "-0", "1.5e+3", "1E5", "01", "+1", ".5", "1.", "1e", "NaN", "-Inf", "1.2.3", "--1", " 1", "1 ", "", "-", "1e400"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := s != "" && (s[0] == '-' || '0' <= s[0] && s[0] <= '9') && strings.TrimSpace(s) == s && json.Valid([]byte(s))
		if got := isNumber(s); got != want {
			t.Fatalf("isNumber(%q) = %v, want %v", s, got, want)
		}
	})
}

// FuzzAppend: whatever a record holds, its alert is JSON, and it is the
// reference's content (plus kibana.*) wherever the reference could encode
// it and the record's numbers are JSON numbers.
func FuzzAppend(f *testing.F) {
	for _, rec := range fixtureEvents(f) {
		f.Add(rec)
	}
	for _, s := range []string{
		`{"eventVersion":"1.08","eventTime":"2026-03-01T20:00:00Z","eventName":"X","eventSource":"s","eventID":"e","requestParameters":{"a":NaN,"b":01,"c":+1,"d":1e400,"e":-Inf}}`,
		`{"eventVersion":NaN,"eventTime":"2026-03-01T20:00:00Z","eventName":"X","readOnly":+1,"userIdentity":{"type":"IAMUser","accountId":1e400}}`,
		`{"eventVersion":"1.08","eventTime":"2026-03-01T20:00:00Z","eventName":"X","requestParameters":{"big":1e400,"n":-0.5E-3}}`,
		`{"eventVersion":"1.08","eventName":"X","eventSource":"s","requestParameters":{"k":1,"k":2,"n":null,"o":{"x":"-"},"k":null,"l":[null,"none",{"y":""},[1,"\u0001\ud800"]]}}`,
		`{"eventVersion":"1.08","eventName":"X","resources":[{"ARN":"a","arn":"b","accountId":"1"},{"ARN":"a","arn":"b","accountId":"1"},{},{"type":null}]}`,
		`{"eventVersion":"1.08","eventName":"X","requestParameters":"a string","responseElements":[1,2],"additionalEventData":true}`,
	} {
		f.Add([]byte(s))
	}
	rs := testRules(f)
	f.Fuzz(func(t *testing.T, rec []byte) {
		d := cloudtrail.NewDecoder(cloudtrail.Options{})
		n := 0
		d.Decode(rec, func(ev *cloudtrail.Event) {
			n++
			r := rs[n%len(rs)]
			tuple := make([]string, len(r.Fields))
			for i := range tuple {
				tuple[i] = string(rec[:min(len(rec), 3*i+n)])
			}
			in := Input{Rule: r, Tuple: tuple, Event: ev, Enrichment: rules.Enrichment{HasAS: n%2 == 0, ASNumber: uint32(len(rec)), ASOrg: string(rec[:min(len(rec), 5)])}, IncludeOriginal: true}
			var b Builder
			got := b.Append(nil, in)
			if !json.Valid(got) {
				t.Fatalf("not JSON: %s", got)
			}
			want, err := reference(in)
			if err != nil || !jsonNumbers(ev.Raw()) {
				return
			}
			doc := decode(t, got)
			delete(doc, "kibana")
			if ref := decode(t, want); !reflect.DeepEqual(doc, ref) {
				t.Fatalf("differs from the reference:\n%s", diffDocs(doc, ref))
			}
		})
	})
}

// jsonNumbers reports whether every number in a record is written as JSON
// writes numbers (fastjson accepts more) and fits a float64.
func jsonNumbers(raw []byte) bool {
	v, err := fastjson.ParseBytes(raw)
	if err != nil {
		return false
	}
	var ok func(v *fastjson.Value) bool
	ok = func(v *fastjson.Value) bool {
		switch v.Type() {
		case fastjson.TypeNumber:
			s := string(v.MarshalTo(nil))
			f, _ := strconv.ParseFloat(s, 64)
			return isNumber(s) && !math.IsInf(f, 0)
		case fastjson.TypeObject:
			o, _ := v.Object()
			good := true
			o.Visit(func(_ []byte, c *fastjson.Value) { good = good && ok(c) })
			return good
		case fastjson.TypeArray:
			a, _ := v.Array()
			for _, c := range a {
				if !ok(c) {
					return false
				}
			}
		}
		return true
	}
	return ok(v)
}
