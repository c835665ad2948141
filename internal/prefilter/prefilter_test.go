package prefilter

import (
	"fmt"
	"math/rand/v2"
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
	f, _ := Build(set(t, `event.action: (AssumeRoleWithWebIdentity or Ro*)`, `event.provider: ab`))
	for _, lit := range []string{`"AssumeRoleWithWebIdentity"`, `"AssumeRoleWithWebIdentit`, `"AssumeRole"`, `"Ro`, `"Rx"`, `"R`, `"ab"`, `"ab`, `"a`, `"AssumedRole"`,
		`"\u0041ssumeRoleWithWebIdentity"`, `"A\/b"`, `"\"q\\"`, `"\`} {
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
// the prefilter never drops a record that a rule matches.
func TestExactInEffect(t *testing.T) {
	events := synth.Stream(synth.Options{Seed: 3, Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Days: 2, Events: 400})
	var raws [][]byte
	for _, ev := range events {
		raws = append(raws, ev.JSON)
		s := string(ev.JSON)
		raws = append(raws, []byte(strings.Replace(s, "Assume", `\u0041ssume`, 1)))
		raws = append(raws, []byte(strings.ReplaceAll(s, "/", `\/`)))
		raws = append(raws, []byte(`{"Records":[`+s+`]}`))
		raws = append(raws, []byte(`{"messageType":"DATA_MESSAGE","logEvents":[{"message":`+fmt.Sprintf("%q", s)+`}]}`))
	}
	// Values to build queries from: what the events hold, and some not.
	dec := cloudtrail.NewDecoder(cloudtrail.Options{})
	fields := []string{"event.action", "event.provider", "user.name", "user.id", "source.address", "aws.cloudtrail.resources.arn",
		"aws.cloudtrail.user_identity.type", "user_agent.original", "cloud.account.id", "aws.cloudtrail.error_code",
		"aws.cloudtrail.flattened.request_parameters.roleArn", "event.outcome", "related.user", "source.ip", "aws.cloudtrail.request_parameters"}
	values := map[string][]string{}
	for _, r := range raws[:200] {
		dec.Decode(r, func(ev *cloudtrail.Event) {
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
		doc := s.NewDoc()
		for _, raw := range raws {
			var hit bool
			dec.Decode(raw, func(ev *cloudtrail.Event) {
				doc.Reset(ev, rules.Enrichment{})
				s.Match(doc, func(*rules.Rule) { hit = true })
			})
			checked++
			if hit {
				matched++
			}
			if !f.MayMatch(raw) {
				dropped++
				if hit {
					t.Fatalf("round %d: the prefilter drops a record that matches %q:\n%s", round, qs, raw)
				}
			}
		}
	}
	if matched == 0 || dropped == 0 {
		t.Errorf("%d checks, %d matched, %d dropped: the property shows nothing", checked, matched, dropped)
	}
	t.Logf("%d checks, %d matched, %d dropped", checked, matched, dropped)
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

// FuzzMayMatch: any bytes; the prefilter never panics and never drops a
// record that one of the conf rules matches.
func FuzzMayMatch(f *testing.F) {
	s, _, err := rules.Load("../../conf/rules")
	if err != nil {
		f.Fatal(err)
	}
	filter, _ := Build(s)
	for _, ev := range synth.Stream(synth.Options{Seed: 8, Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Days: 1, Events: 20}) {
		f.Add(ev.JSON)
	}
	f.Add([]byte(`{"eventVersion":"1","eventName":"ConsoleLogin","eventSource":"signin.amazonaws.com"}`))
	dec := cloudtrail.NewDecoder(cloudtrail.Options{})
	doc := s.NewDoc()
	f.Fuzz(func(t *testing.T, raw []byte) {
		pass := filter.MayMatch(raw)
		if pass != scalar(filter, raw) {
			t.Fatalf("the vector scan says %v, the quote loop %v: %s", pass, !pass, raw)
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
