package prefilter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/newterms/newterms/internal/cloudtrail"
	"github.com/newterms/newterms/internal/rules"
	"github.com/newterms/newterms/internal/synth"
)

func set(t testing.TB, queries ...string) *rules.Set {
	t.Helper()
	var rs []*rules.Rule
	for i, q := range queries {
		r, err := rules.Inline(fmt.Sprint("r", i), fmt.Sprint("rule ", i), q, []string{"user.id"}, "1d")
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		rs = append(rs, r)
	}
	s, err := rules.NewSet(rs)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestBuild(t *testing.T) {
	cases := []struct {
		queries []string
		enabled bool
		lits    int
	}{
		{[]string{`event.action: AssumeRoleWithWebIdentity and event.outcome: success`}, true, 1},
		{[]string{`event.action: (A1 or B1) and event.provider: sts.amazonaws.com`, `event.provider: iam.amazonaws.com`}, true, 4},
		{[]string{`event.outcome: success`}, false, 0}, // computed
		{[]string{`not event.action: X1`}, false, 0},   // negation only
		{[]string{`source.as.number > 10`}, false, 0},  // enrichment, range
		{[]string{`event.action: AssumeRole* and user_agent.original: *Boto3*`}, true, 2},
		{[]string{`aws.cloudtrail.flattened.request_parameters.durationSeconds: 3600`}, false, 0}, // a number
		{[]string{`user.name: a`}, false, 0},                                                      // too short
		{[]string{`event.action: X1`, `not event.action: X1`}, false, 1},
	}
	for _, c := range cases {
		f, rep := Build(set(t, c.queries...))
		if (f != nil) != c.enabled || rep.Enabled != c.enabled || (c.enabled && rep.Literals != c.lits) {
			t.Errorf("%v: filter %v, report %+v", c.queries, f != nil, rep)
		}
		if !c.enabled && len(rep.Unfiltered) == 0 {
			t.Errorf("%v: disabled without a reason", c.queries)
		}
	}
}

// Every clause of a rule must be met: an action without its provider is
// not enough.
func TestClauses(t *testing.T) {
	f, _ := Build(set(t, `event.provider: "sts.amazonaws.com" and event.action: (AssumeRole or GetCallerIdentity)`))
	for raw, want := range map[string]bool{
		`{"eventSource":"sts.amazonaws.com","eventName":"AssumeRole"}`:          true,
		`{"eventSource":"iam.amazonaws.com","eventName":"AssumeRole"}`:          false,
		`{"eventSource":"sts.amazonaws.com","eventName":"DecodeAuthorization"}`: false,
	} {
		if got := f.MayMatch([]byte(raw)); got != want {
			t.Errorf("%s: %v, want %v", raw, got, want)
		}
	}
}

func TestMayMatch(t *testing.T) {
	f, _ := Build(set(t, `event.action: AssumeRoleWithWebIdentity`, `user_agent.original: *Terraform*`))
	cases := []struct {
		raw  string
		want bool
	}{
		{`{"eventName":"AssumeRoleWithWebIdentity"}`, true},
		{`{"eventName":"AssumeRole"}`, false},
		{`{"eventName":"GetObject","userAgent":"HashiCorp Terraform/1.6"}`, true},
		{`{"x":"\u0041ssumeRoleWithWebIdentity"}`, true}, // escapes could hide it: parse
		{`{"x":"a\/b"}`, true},
		{`{"x":"quote \" and backslash \\ only"}`, false},
		{`eyJldmVudE5hbWUiOiJBc3N1bWVSb2xlV2l0aFdlYklkZW50aXR5In0=`, true},    // base64: parse
		{"\x1f\x8b\x08\x00", true},                                            // gzip
		{`{"message":"{\"eventName\":\"AssumeRoleWithWebIdentity\"}"}`, true}, // JSON in a string
		{``, true},
		{`  {}`, false},
		// The values of the keys the decoder opens may be base64.
		{`{"records":[{"data":"eyJldmVudE5hbWUiOiJBc3N1bWVSb2xlV2l0aFdlYklkZW50aXR5In0="}]}`, true},
		{`{"awslogs":{"data":"H4sIAAAAAAAA/6tWSi0pKSotRiYA"}}`, true},
		{`{"records":[{"data" : ` + "\n" + ` "  eyJldmVudE5hbWUiOiJ4In0="}]}`, true},
		{`{"Type":"Notification","Message":"eyJldmVudE5hbWUiOiJ4In0="}`, true},
		{`{"Events":[{"CloudTrailEvent":"eyJldmVudE5hbWUiOiJ4In0="}]}`, true},
		{`{"Message":"{\"records\":[{\"data\":\"eyJldmVudE5hbWUiOiJ4In0=\"}]}"}`, true},
		{`{"data":"\neyJldmVudE5hbWUiOiJ4In0="}`, true},
		// ... and not when they hold JSON, non-strings, or text that is no base64;
		// nor when the word is a value or a longer name.
		{`{"messageType":"DATA_MESSAGE","logEvents":[{"message":"{\"eventName\":\"AssumeRole\"}"}]}`, false},
		{`{"messageType":"DATA_MESSAGE","logEvents":[{"message":" [{\"eventName\":\"AssumeRole\"}]"}]}`, false},
		{`{"eventName":"Publish","requestParameters":{"message":"HIDDEN_DUE_TO_SECURITY_REASONS"}}`, false},
		{`{"records":[{"data":{"eventName":"AssumeRole"}}]}`, false},
		{`{"Message":5,"data":null,"message":""}`, false},
		{`{"requestParameters":{"bucketName":"data","database":"eyJldmVudE5hbWUiOiJ4In0="}}`, false},
		// JSON in a string: its \u reads \\u, and still may hide a literal.
		{`{"Message":"{\"eventName\":\"\\u0041ssumeRoleWithWebIdentity\"}"}`, true},
		{`{"x":"\\\\/"}`, true},
	}
	for _, c := range cases {
		if got := f.MayMatch([]byte(c.raw)); got != c.want {
			t.Errorf("%s: %v, want %v", c.raw, got, c.want)
		}
	}
	var none *Filter
	if !none.MayMatch([]byte(`{}`)) {
		t.Error("a nil filter must pass everything")
	}
}

// The envelope keys are the keys the decoder opens as text of their own:
// the string arguments of its nestedText calls.
func TestEnvelopeKeys(t *testing.T) {
	file, err := parser.ParseFile(token.NewFileSet(), "../cloudtrail/decode.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var opened []string
	ast.Inspect(file, func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok {
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "nestedText" {
				lit, ok := call.Args[1].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Fatalf("nestedText with a key that is no string literal: %#v", call.Args[1])
				}
				key, _ := strconv.Unquote(lit.Value)
				opened = append(opened, key)
			}
		}
		return true
	})
	slices.Sort(opened)
	opened = slices.Compact(opened)
	keys := slices.Sorted(slices.Values(envelopeKeys))
	if !slices.Equal(opened, keys) {
		t.Errorf("the decoder opens %q, the prefilter knows %q", opened, keys)
	}
}

// scalar runs MayMatch with the quote loop alone.
func scalar(f *Filter, raw []byte) bool {
	defer func(v bool) { haveSIMD = v }(haveSIMD)
	haveSIMD = false
	return f.MayMatch(raw)
}

// The vector scan and the quote loop agree wherever a literal sits: in
// every position of a block, across blocks, in the unscanned tail, cut
// short by the end of the record, after near misses; and escapes that
// could hide a literal (which pass) or could not (which do not).
func TestVectorScan(t *testing.T) {
	if !haveSIMD {
		t.Skip("no vector scan on this machine")
	}
	f, _ := Build(set(t, `event.action: (AssumeRoleWithWebIdentity or Ro*)`, `event.provider: ab`, `user_agent.original: *Terraform*`))
	for _, lit := range []string{`"AssumeRoleWithWebIdentity"`, `"AssumeRoleWithWebIdentit`, `"AssumeRole"`, `"Ro`, `"Rx"`, `"R`, `"ab"`, `"ab`, `"a`, `"AssumedRole"`,
		`"\u0041ssumeRoleWithWebIdentity"`, `"A\/b"`, `"\"q\\"`, `"\`,
		`"data":"eyJ9"`, `"data":"{}"`, `"Message" :"H4sI`, `"message":"x_"`, `"CloudTrailEvent"`, `"dat`,
		`"HashiCorp Terraform/1.6"`, `Terraform`, `Terrafor`, `xTerraformx`} {
		for pad := range 100 {
			for tail := range 40 {
				raw := []byte(`{"a":"` + strings.Repeat("x", pad) + `",` + strings.Repeat(`"`, tail%3) + `"k":` + lit + strings.Repeat("y", tail))
				if got, want := f.MayMatch(raw), scalar(f, raw); got != want {
					t.Fatalf("%s: vector %v, quote loop %v", raw, got, want)
				}
			}
		}
	}
}

// The property: over random rules and events (escaped variants included),
// in every envelope the decoder reads, encoded as each arrives and nested
// at random, the prefilter never drops a record that a rule matches.
func TestExactInEffect(t *testing.T) {
	events := synth.Stream(synth.Options{Seed: 3, Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Days: 2, Events: 400})
	type input struct {
		raw   []byte
		form  string
		inner []int // the records the decoder finds in raw, as indexes into texts
	}
	var inputs []input
	var texts [][]byte
	textIdx := map[string]int{}
	dec, plain := cloudtrail.NewDecoder(cloudtrail.Options{}), cloudtrail.NewDecoder(cloudtrail.Options{})
	add := func(form string, raw []byte) {
		in := input{raw: raw, form: form}
		res := dec.Decode(raw, func(ev *cloudtrail.Event) {
			r := string(ev.Raw())
			// Matching the record alone is matching the event: the same
			// document comes out.
			want, _ := json.Marshal(ev.Document())
			var got []byte
			plain.Decode([]byte(r), func(ev *cloudtrail.Event) { got, _ = json.Marshal(ev.Document()) })
			if !bytes.Equal(got, want) {
				t.Fatalf("%s: the record alone gives\n%s\nin its envelope\n%s", form, got, want)
			}
			i, ok := textIdx[r]
			if !ok {
				i = len(texts)
				textIdx[r] = i
				texts = append(texts, []byte(r))
			}
			in.inner = append(in.inner, i)
		})
		if res.Err() != nil || res.Events != 1 {
			t.Fatalf("%s: the decoder finds %d events (%v) in %.300q", form, res.Events, res.Err(), raw)
		}
		inputs = append(inputs, in)
	}
	nestRng := rand.New(rand.NewPCG(5, 6))
	for i, ev := range events {
		s := string(ev.JSON)
		variants := [][]byte{ev.JSON, []byte(strings.Replace(s, "Assume", `\u0041ssume`, 1)), []byte(strings.ReplaceAll(s, "/", `\/`))}
		for j, v := range variants {
			add(fmt.Sprint("variant ", j), v)
		}
		env := synth.Envelopes[i%len(synth.Envelopes)]
		add(env.Name, env.Wrap(variants[i/len(synth.Envelopes)%len(variants)]))
		add("nested", nest(nestRng, variants[nestRng.IntN(len(variants))]))
	}
	// Values to build queries from: what the events hold, and some not.
	fields := []string{"event.action", "event.provider", "user.name", "user.id", "source.address", "aws.cloudtrail.resources.arn",
		"aws.cloudtrail.user_identity.type", "user_agent.original", "cloud.account.id", "aws.cloudtrail.error_code",
		"aws.cloudtrail.flattened.request_parameters.roleArn", "event.outcome", "related.user", "source.ip", "aws.cloudtrail.request_parameters"}
	values := map[string][]string{}
	for _, ev := range events[:40] {
		dec.Decode(ev.JSON, func(ev *cloudtrail.Event) {
			for _, f := range fields {
				for _, v := range ev.Get(f, nil) {
					values[f] = append(values[f], strings.Clone(v.Str))
				}
			}
		})
	}
	rng := rand.New(rand.NewPCG(1, 2))
	value := func(f string) string {
		vs := values[f]
		if f == "source.ip" {
			if len(vs) == 0 || rng.IntN(3) == 0 {
				return "10.0.0.0/8"
			}
			return `"` + vs[rng.IntN(len(vs))] + `"`
		}
		if len(vs) == 0 || rng.IntN(5) == 0 {
			return "Nope"
		}
		v := vs[rng.IntN(len(vs))]
		esc := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v)
		switch rng.IntN(4) {
		case 0:
			return `"` + esc + `"`
		case 1:
			if len(v) > 4 {
				return `"` + esc[:len(esc)/2] + `"` // partial: may not match
			}
		case 2:
			if len(v) > 6 && !strings.ContainsAny(v, `"\ :()<>{}*`) {
				return v[:len(v)/2] + "*"
			}
		case 3:
			if len(v) > 6 && !strings.ContainsAny(v, `"\ :()<>{}*`) {
				return "*" + v[2:len(v)-2] + "*"
			}
		}
		return `"` + esc + `"`
	}
	clause := func() string {
		f := fields[rng.IntN(len(fields))]
		switch rng.IntN(6) {
		case 0:
			return fmt.Sprintf("%s: (%s or %s)", f, value(f), value(f))
		case 1:
			return fmt.Sprintf("not %s: %s", f, value(f))
		case 2:
			return fmt.Sprintf("%s: *", f)
		}
		return fmt.Sprintf("%s: %s", f, value(f))
	}
	checked, matched, dropped := 0, 0, 0
	matchedIn := map[string]int{} // per form: the property is shown on each
	hits := make([]bool, len(texts))
	for round := range 300 {
		var qs []string
		for range 1 + rng.IntN(4) {
			q := clause()
			for range rng.IntN(3) {
				op := []string{" and ", " or "}[rng.IntN(2)]
				q += op + clause()
			}
			qs = append(qs, q)
		}
		s := set(t, qs...)
		f, _ := Build(s)
		if f == nil {
			continue
		}
		// What the engine without the prefilter would match: the rules on
		// each record the decoder found in the inputs, once per record.
		doc := s.NewDoc()
		for i, text := range texts {
			hits[i] = false
			dec.Decode(text, func(ev *cloudtrail.Event) {
				doc.Reset(ev, rules.Enrichment{})
				s.Match(doc, func(*rules.Rule) { hits[i] = true })
			})
		}
		for _, in := range inputs {
			hit := false
			for _, i := range in.inner {
				hit = hit || hits[i]
			}
			checked++
			if hit {
				matched++
				matchedIn[in.form]++
			}
			if !f.MayMatch(in.raw) {
				dropped++
				if hit {
					t.Fatalf("round %d: the prefilter drops a record (%s) that matches %q:\n%.2000s", round, in.form, qs, in.raw)
				}
			}
		}
	}
	if matched == 0 || dropped == 0 {
		t.Errorf("%d checks, %d matched, %d dropped: the property shows nothing", checked, matched, dropped)
	}
	for _, env := range append(synth.Envelopes, synth.Envelope{Name: "nested"}) {
		if matchedIn[env.Name] == 0 {
			t.Errorf("no record in the %s form matched a rule: the property shows nothing there", env.Name)
		}
	}
	t.Logf("%d checks, %d matched, %d dropped", checked, matched, dropped)
}

// nest wraps rec in up to four envelopes picked at random, each string
// payload plain (escaped JSON), base64 or base64 of gzip, and the whole in
// one of the encodings of a raw input; within the decoder's nesting limit.
func nest(rng *rand.Rand, rec []byte) []byte {
	const limit = 7 // the innermost text's depth must stay below maxNesting (8)
	text, depth, isRecord := rec, 0, true
	payload := func() []byte {
		switch rng.IntN(3) {
		case 1:
			if depth+2 <= limit {
				depth += 2
				return synth.Base64(text)
			}
		case 2:
			if depth+3 <= limit {
				depth += 3
				return synth.Base64(synth.Gzip(text))
			}
		}
		depth++
		return text
	}
	for range rng.IntN(5) {
		if depth+1 > limit {
			break
		}
		switch rng.IntN(10) {
		case 0:
			text = synth.S3Log(text)
		case 1:
			if !isRecord {
				continue
			}
			text = synth.EventBridge(text)
		case 2:
			text = synth.Array(text)
		case 3:
			text = synth.CloudWatchLogs(payload())
		case 4:
			text = synth.Awslogs(payload())
		case 5:
			text = synth.Firehose(payload())
		case 6:
			text = synth.FirehoseTransform(payload())
		case 7:
			text = synth.LookupEvents(payload())
		case 8:
			text = synth.SNS(payload())
		case 9: // AWS's examples show Firehose data decoded, as an object
			if text[0] != '{' {
				continue
			}
			text = []byte(`{"records":[{"recordId":"1","data":` + string(text) + `}]}`)
		}
		isRecord = false
	}
	switch rng.IntN(4) {
	case 1:
		if depth+1 <= limit {
			return synth.Gzip(text)
		}
	case 2:
		if depth+1 <= limit {
			return synth.Base64(text)
		}
	case 3:
		if depth+2 <= limit {
			return synth.Base64(synth.Gzip(text))
		}
	}
	return text
}

// BenchmarkMayMatch: the prefilter on a 1.5 KB record that no rule of
// conf/rules matches, and on one that the seed rules match.
func BenchmarkMayMatch(b *testing.B) {
	s, _, err := rules.Load("../../conf/rules")
	if err != nil {
		b.Fatal(err)
	}
	f, _ := Build(s)
	events := synth.Stream(synth.Options{Seed: 1, Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Days: 1, Events: 100})
	var none, match []byte
	for _, ev := range events {
		s := string(ev.JSON)
		rec := []byte(s[:len(s)-1] + `,"additionalEventData":{"note":"` + strings.Repeat("x", max(0, 1500-len(s)-40)) + `"}}`)
		if ev.Action == "GetObject" && none == nil {
			none = rec
		}
		if ev.Action == "AssumeRoleWithWebIdentity" && match == nil {
			match = rec
		}
	}
	for _, c := range []struct {
		name string
		rec  []byte
		want bool
	}{{"none", none, false}, {"match", match, true}} {
		b.Run(c.name, func(b *testing.B) {
			if f.MayMatch(c.rec) != c.want {
				b.Fatalf("MayMatch = %v", !c.want)
			}
			b.SetBytes(int64(len(c.rec)))
			b.ReportAllocs()
			for b.Loop() {
				f.MayMatch(c.rec)
			}
		})
	}
}

// FuzzMayMatch: any bytes; the prefilter never panics, never drops a
// record that one of the conf rules matches, and answers as the naive
// search does, with the conf rules and with Elastic's pack when it is there.
func FuzzMayMatch(f *testing.F) {
	s, _, err := rules.Load("../../conf/rules")
	if err != nil {
		f.Fatal(err)
	}
	filter, _ := Build(s)
	filters, naives := []*Filter{filter}, []naive{newNaive(s)}
	if _, err := os.Stat(elasticPack); err == nil {
		ps := packSet(f)
		pf, rep := Build(ps)
		if pf == nil {
			f.Fatalf("no filter for the pack: %v", rep.Unfiltered)
		}
		filters, naives = append(filters, pf), append(naives, newNaive(ps))
		f.Add([]byte(kmsDecrypt))
	}
	for _, ev := range synth.Stream(synth.Options{Seed: 8, Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Days: 1, Events: 20}) {
		f.Add(ev.JSON)
	}
	f.Add([]byte(`{"eventVersion":"1","eventName":"ConsoleLogin","eventSource":"signin.amazonaws.com"}`))
	// Every envelope, around a record the seed rules match and one they do not.
	var match, other []byte
	for _, ev := range synth.Stream(synth.Options{Seed: 8, Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Days: 1, Events: 100}) {
		switch {
		case ev.Action == "AssumeRoleWithWebIdentity" && ev.Success && match == nil:
			match = ev.JSON
		case ev.Action == "GetObject" && other == nil:
			other = ev.JSON
		}
	}
	for _, env := range synth.Envelopes {
		f.Add(env.Wrap(match))
		f.Add(env.Wrap(other))
	}
	dec := cloudtrail.NewDecoder(cloudtrail.Options{})
	doc := s.NewDoc()
	f.Fuzz(func(t *testing.T, raw []byte) {
		pass := filter.MayMatch(raw)
		if pass != scalar(filter, raw) {
			t.Fatalf("the vector scan says %v, the quote loop %v: %s", pass, !pass, raw)
		}
		for i, nv := range naives {
			agree(t, filters[i], nv, raw, fmt.Sprint("filter ", i))
		}
		dec.Decode(raw, func(ev *cloudtrail.Event) {
			doc.Reset(ev, rules.Enrichment{HasAS: true, ASNumber: 1, ASOrg: "Example"})
			s.Match(doc, func(r *rules.Rule) {
				if !pass {
					t.Fatalf("dropped a record that %q matches: %s", r.Name, raw)
				}
			})
		})
	})
}

// elasticPack is the directory of Elastic's CloudTrail new_terms rules,
// beside the checkout.
const elasticPack = "../../../shared/fixtures/elastic-rules"

// packSet loads Elastic's whole CloudTrail rule pack; skips when absent.
func packSet(t testing.TB) *rules.Set {
	t.Helper()
	if _, err := os.Stat(elasticPack); err != nil {
		t.Skipf("%s absent: %v", elasticPack, err)
	}
	s, _, err := rules.Load(elasticPack)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// kmsDecrypt is a 1 KB record that no rule of Elastic's pack matches, as
// CloudTrail writes them: a role on an EC2 instance decrypting with KMS.
// It holds some of the pack's literals (kms.amazonaws.com, AssumedRole,
// ASIA, :i-), none of its rules' every clause.
const kmsDecrypt = `{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLEROLEID:i-0abcd1234ef567890","arn":"arn:aws:sts::111122223333:assumed-role/app-server/i-0abcd1234ef567890","accountId":"111122223333","accessKeyId":"ASIAEXAMPLEKEYID1234","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAEXAMPLEROLEID","arn":"arn:aws:iam::111122223333:role/app-server","accountId":"111122223333","userName":"app-server"}}},"eventTime":"2026-03-01T02:24:35Z","eventSource":"kms.amazonaws.com","eventName":"Decrypt","awsRegion":"us-east-1","sourceIPAddress":"10.0.12.34","userAgent":"aws-sdk-java/1.12.7650","requestParameters":{"encryptionAlgorithm":"SYMMETRIC_DEFAULT"},"requestID":"0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d","eventID":"5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9","resources":[{"accountId":"111122223333","type":"AWS::KMS::Key","ARN":"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}],"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333"}`

// BenchmarkMayMatchPack: the prefilter with Elastic's whole CloudTrail pack
// loaded, on a 1 KB record that no rule matches, and on the synthetic
// stream, one record an operation, reporting the fraction that passes.
func BenchmarkMayMatchPack(b *testing.B) {
	s := packSet(b)
	f, rep := Build(s)
	if f == nil {
		b.Fatalf("no prefilter for the pack: %+v", rep)
	}
	b.Run("none-1KB", func(b *testing.B) {
		rec := []byte(kmsDecrypt)
		if f.MayMatch(rec) || matches(s, rec) {
			b.Fatal("the record must match no rule and be dropped")
		}
		b.SetBytes(int64(len(rec)))
		b.ReportAllocs()
		for b.Loop() {
			f.MayMatch(rec)
		}
	})
	b.Run("stream", func(b *testing.B) {
		events := synth.Stream(synth.Options{Seed: 1, Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Days: 2, Events: 2000})
		passed := 0
		for _, ev := range events {
			if f.MayMatch(ev.JSON) {
				passed++
			}
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			f.MayMatch(events[i].JSON)
			if i++; i == len(events) {
				i = 0
			}
		}
		b.ReportMetric(float64(passed)/float64(len(events)), "pass/record")
	})
}

// matches reports whether a rule of s matches the records in raw.
func matches(s *rules.Set, raw []byte) bool {
	hit := false
	doc := s.NewDoc()
	cloudtrail.NewDecoder(cloudtrail.Options{}).Decode(raw, func(ev *cloudtrail.Event) {
		doc.Reset(ev, rules.Enrichment{HasAS: true, ASNumber: 1, ASOrg: "Example"})
		s.Match(doc, func(*rules.Rule) { hit = true })
	})
	return hit
}
