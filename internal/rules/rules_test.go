package rules

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/newterms/newterms/internal/cloudtrail"
)

const confRules = "../../conf/rules"

func TestLoadConfRules(t *testing.T) {
	set, rep, err := Load(confRules)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Failed) > 0 || len(rep.Skipped) > 0 || len(rep.Loaded) != 7 {
		t.Fatalf("loaded %d, skipped %v, failed %v", len(rep.Loaded), rep.Skipped, rep.Failed)
	}
	var seed *Rule
	for _, r := range set.Rules() {
		if r.ID == "7f3c2a10-5b1e-4c55-9d0a-2e6f1b8c4a01" {
			seed = r
		}
	}
	if seed == nil {
		t.Fatal("seed rule not loaded")
	}
	if !slices.Equal(seed.Fields, []string{"aws.cloudtrail.resources.arn", "source.as.number"}) ||
		seed.Window != 10*24*time.Hour || seed.WindowText != "now-10d" || seed.Severity != "high" || seed.RiskScore != 73 ||
		!strings.HasPrefix(seed.Key, seed.ID+":") || len(seed.Key) != len(seed.ID)+17 || !seed.NeedsASN() {
		t.Errorf("seed rule: %+v", seed)
	}
	var subs []string
	for _, th := range seed.Threat {
		for _, tq := range th.Techniques {
			for _, s := range tq.Subtechniques {
				subs = append(subs, th.Tactic.ID+"/"+s.ID)
			}
		}
	}
	if !slices.Equal(subs, []string{"TA0001/T1078.004", "TA0005/T1550.001"}) {
		t.Errorf("threat = %v", subs)
	}
	var unindexed []string
	for _, r := range set.Unindexed() {
		unindexed = append(unindexed, r.Name)
	}
	if !slices.Equal(unindexed, []string{"AWS Root User Activity from a New Address"}) {
		t.Errorf("unindexed = %v", unindexed)
	}
	// Notes name query fields events never hold (user_agent.name is not
	// among them: conf/rules use user_agent.original).
	if len(rep.Notes) != 0 {
		t.Errorf("notes: %v", rep.Notes)
	}
}

// ruleTOML writes a minimal detection-rules file with overrides.
func ruleTOML(over map[string]string) string {
	v := map[string]string{
		"type": `"new_terms"`, "language": `"kuery"`, "index": `["logs-aws.cloudtrail-*"]`, "maturity": `"production"`,
		"rule_id": `"r-1"`, "query": `'''event.action: AssumeRole'''`, "value": `["user.id"]`, "field": `"new_terms_fields"`,
		"window": `"now-10d"`,
	}
	for k, x := range over {
		v[k] = x
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[metadata]\nmaturity = %s\n\n[rule]\nname = \"Test\"\n", v["maturity"])
	if v["rule_id"] != "" {
		fmt.Fprintf(&b, "rule_id = %s\n", v["rule_id"])
	}
	if v["index"] != "" {
		fmt.Fprintf(&b, "index = %s\n", v["index"])
	}
	fmt.Fprintf(&b, "language = %s\ntype = %s\nseverity = \"low\"\nrisk_score = 21\n\nquery = %s\n\n", v["language"], v["type"], v["query"])
	if v["value"] != "" {
		fmt.Fprintf(&b, "[rule.new_terms]\nfield = %s\nvalue = %s\n", v["field"], v["value"])
		if v["window"] != "" {
			fmt.Fprintf(&b, "[[rule.new_terms.history_window_start]]\nfield = \"history_window_start\"\nvalue = %s\n", v["window"])
		}
	}
	return b.String()
}

func TestParse(t *testing.T) {
	cases := []struct {
		name string
		over map[string]string
		raw  string // the file itself, instead of ruleTOML(over)
		skip string
		fail string // "line:col: message" substring
	}{
		{name: "valid"},
		{name: "filebeat and cloudtrail index", over: map[string]string{"index": `["filebeat-*", "logs-aws.cloudtrail*"]`}},
		{name: "logs-* index", over: map[string]string{"index": `["logs-*"]`}},
		{name: "no index, cloudtrail fields", over: map[string]string{"index": ""}},
		{name: "multi-line query", over: map[string]string{"query": "'''\nevent.action: AssumeRole\n    and event.outcome: success\n'''"}},
		{name: "three fields", over: map[string]string{"value": `["user.id", "source.ip", "source.as.number"]`}},
		{name: "weeks", over: map[string]string{"window": `"now-2w"`}},
		{name: "query rule", over: map[string]string{"type": `"query"`}, skip: `type "query", not new_terms`},
		{name: "eql rule", over: map[string]string{"type": `"eql"`}, skip: "not new_terms"},
		{name: "deprecated", over: map[string]string{"maturity": `"deprecated"`}, skip: "deprecated"},
		{name: "other index", over: map[string]string{"index": `["logs-okta*", "filebeat-*"]`}, skip: "not for CloudTrail"},
		{name: "excluded only", over: map[string]string{"index": `["-logs-aws.cloudtrail-*"]`}, skip: "not for CloudTrail"},
		{name: "no index, endpoint fields", over: map[string]string{"index": "", "query": `'''process.name: cmd.exe'''`}, skip: "process.name"},
		{name: "geo field", over: map[string]string{"value": `["source.geo.country_iso_code"]`}, skip: "new_terms field source.geo.country_iso_code"},
		{name: "lucene", over: map[string]string{"language": `"lucene"`}, fail: `:8:1: language "lucene"`},
		{name: "no rule_id", over: map[string]string{"rule_id": ""}, fail: ":4:1: rule_id is missing"},
		{name: "no new_terms", over: map[string]string{"value": ""}, fail: "[rule.new_terms] is missing"},
		{name: "four fields", over: map[string]string{"value": `["user.id", "user.name", "source.ip", "cloud.region"]`}, fail: "names 4 fields, want 1 to 3"},
		{name: "no fields", over: map[string]string{"value": `[]`}, fail: "names 0 fields"},
		{name: "wrong field key", over: map[string]string{"field": `"terms"`}, fail: `rule.new_terms.field is "terms"`},
		{name: "no window", over: map[string]string{"window": ""}, fail: "history_window_start"},
		{name: "bad window unit", over: map[string]string{"window": `"now-3M"`}, fail: `unit "M" is not one of s, m, h, d, w`},
		{name: "bad window", over: map[string]string{"window": `"yesterday"`}, fail: "want now-<n><unit>"},
		{name: "kql error on one line", over: map[string]string{"query": `'''event.action: (AssumeRole'''`}, fail: `:13:37: query: unexpected end of query, want "and", "or" or ")"`},
		{name: "kql error on a later line", over: map[string]string{"query": "'''\nevent.action: AssumeRole\n    and process.name: {x}\n'''"}, fail: ":15:23: query: nested field queries"},
		{name: "kql free text", over: map[string]string{"query": `'''AssumeRole'''`}, fail: ":13:12: query: free-text search"},
		{name: "toml syntax", raw: "[rule]\nname = \"x\nrule_id = 1\n", fail: "2:"},
		{name: "toml type", raw: "[rule]\nrisk_score = \"high\"\n", fail: ":2:"},
		{name: "empty file", raw: "", skip: "no rule.type: not a detection rule"},
		{name: "hunting query", raw: "[hunt]\nname = \"h\"\n", skip: "not a detection rule"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := c.raw
			if data == "" && c.over != nil || c.name == "valid" {
				data = ruleTOML(c.over)
			}
			r, skip, fail := Parse("x.toml", []byte(data))
			switch {
			case c.fail != "":
				if fail == nil || !strings.Contains(fail.Error(), c.fail) {
					t.Fatalf("failure = %v, want %q\n%s", fail, c.fail, data)
				}
			case c.skip != "":
				if fail != nil || !strings.Contains(skip, c.skip) {
					t.Fatalf("skip = %q, failure %v; want skip %q", skip, fail, c.skip)
				}
			default:
				if fail != nil || skip != "" || r == nil || r.Key == "" {
					t.Fatalf("skip %q, failure %v\n%s", skip, fail, data)
				}
			}
		})
	}
}

func TestRuleKey(t *testing.T) {
	parse := func(over map[string]string) string {
		r, _, fail := Parse("x.toml", []byte(ruleTOML(over)))
		if fail != nil {
			t.Fatal(fail)
		}
		return r.Key
	}
	base := parse(nil)
	if base != parse(nil) {
		t.Error("key is not stable")
	}
	for _, over := range []map[string]string{
		{"query": `'''event.action: AssumeRoleWithSAML'''`},
		{"value": `["user.name"]`},
		{"value": `["user.id", "source.ip"]`},
		{"window": `"now-11d"`},
		{"rule_id": `"r-2"`},
	} {
		if parse(over) == base {
			t.Errorf("edit %v keeps the key", over)
		}
	}
	if parse(map[string]string{"window": `"now-240h"`}) != base {
		t.Error("the same window written otherwise changes the key")
	}
}

func TestLoadReport(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(data), 0o644)
	}
	write("a.toml", ruleTOML(nil))
	write("sub/b.toml", ruleTOML(map[string]string{"rule_id": `"r-2"`, "query": `'''event.action: X and user_agent.name: Chrome'''`}))
	write("sub/dup.toml", ruleTOML(nil))
	write("sub/deep/skip.toml", ruleTOML(map[string]string{"type": `"query"`}))
	write("sub/deep/bad.toml", ruleTOML(map[string]string{"language": `"eql"`}))
	write("notes.txt", "not a rule")
	write(".git/c.toml", "garbage [[[")
	set, rep, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Loaded) != 2 || len(set.Rules()) != 2 || len(rep.Skipped) != 1 || len(rep.Failed) != 2 {
		t.Fatalf("report: loaded %d skipped %v failed %v", len(rep.Loaded), rep.Skipped, rep.Failed)
	}
	failed := fmt.Sprint(rep.Failed)
	if !strings.Contains(failed, "sub/dup.toml: rule_id r-1 is already used by "+filepath.Join(dir, "a.toml")) ||
		!strings.Contains(failed, `bad.toml:8:1: language "eql"`) {
		t.Errorf("failures: %s", failed)
	}
	if len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], "user_agent.name") {
		t.Errorf("notes: %v", rep.Notes)
	}
	if _, _, err := Load(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing path is no error")
	}
}

func TestInline(t *testing.T) {
	r, err := Inline("", "OIDC from new network", `event.action: AssumeRoleWithWebIdentity`, []string{"user.id", "source.as.number"}, "now-10d")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.ID, "inline-") || r.Window != 240*time.Hour || r.Key == "" {
		t.Errorf("%+v", r)
	}
	for _, c := range []struct {
		query  string
		fields []string
		window string
		want   string
	}{
		{"event.action: X", nil, "10d", "needs a name"},
		{"event.action: (X", []string{"user.id"}, "10d", "query: 1:"},
		{"event.action: X", []string{"a", "b", "c", "d"}, "10d", "1 to 3"},
		{"event.action: X", []string{"process.name"}, "10d", "process.name"},
		{"event.action: X", []string{"user.id"}, "ten days", "history window"},
	} {
		if _, err := Inline("", "n", c.query, c.fields, c.window); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err = %v, want %q", c, err, c.want)
		}
	}
}

func readEvents(t testing.TB) [][]byte {
	data, err := os.ReadFile("../../testdata/cloudtrail/events.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Split(bytes.TrimSpace(data), []byte("\n"))
}

// each decodes the synthetic events and calls fn with a document for each.
func each(t testing.TB, set *Set, enr func(i int) Enrichment, fn func(i int, d *Doc)) {
	dec := cloudtrail.NewDecoder(cloudtrail.Options{})
	d := set.NewDoc()
	for i, rec := range readEvents(t) {
		dec.Decode(rec, func(ev *cloudtrail.Event) {
			d.Reset(ev, enr(i))
			fn(i, d)
		})
	}
}

func amazon(int) Enrichment {
	return Enrichment{HasAS: true, ASNumber: 16509, ASOrg: "Amazon.com, Inc."}
}

func TestMatchAndTerms(t *testing.T) {
	set, _, err := Load(confRules)
	if err != nil {
		t.Fatal(err)
	}
	type hit struct{ rule, tuples string }
	got := map[int][]hit{}
	collect := func(i int, d *Doc) {
		set.Match(d, func(r *Rule) {
			var ts []string
			r.Terms(d, 0, func(tu []string) { ts = append(ts, strings.Join(tu, "|")) })
			got[i] = append(got[i], hit{r.Name, strings.Join(ts, " ; ")})
		})
	}
	each(t, set, amazon, collect)
	want := map[int][]hit{
		2: {{"AWS Console Login from a New Network for the Identity", "arn:aws:iam::111122223333:root|16509"},
			{"AWS Root User Activity from a New Address", "111122223333|198.51.100.7"}},
		4: {{"AWS STS Web Identity Role Assumed from a New Network", "arn:aws:iam::111122223333:role/payments-api|16509"},
			{"AWS STS Web Identity Subject Seen from a New Network", "arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE:sts.amazonaws.com:system:serviceaccount:payments:api|16509"}},
		11: {{"AWS STS Web Identity Role Assumed from a New Network", "arn:aws:iam::111122223333:role/gha-deploy|16509"},
			{"AWS STS Web Identity Subject Seen from a New Network", "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com:sts.amazonaws.com:repo:example-org/deploy:ref:refs/heads/main|16509"}},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("matches:\n got %v\nwant %v", got, want)
	}

	// Without ASN data the rules that need it do not match, or match and
	// give no tuple.
	got = map[int][]hit{}
	each(t, set, func(int) Enrichment { return Enrichment{} }, collect)
	want = map[int][]hit{2: {{"AWS Console Login from a New Network for the Identity", ""},
		{"AWS Root User Activity from a New Address", "111122223333|198.51.100.7"}}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("without ASN:\n got %v\nwant %v", got, want)
	}
}

// Doc's values are cloudtrail's, handed to kql without a copy: every
// field of every event reads the same through both, in every kind.
func TestDocValues(t *testing.T) {
	fields := slices.Concat(cloudtrail.Fields(), []string{
		"aws.cloudtrail.resources.arn", "aws.cloudtrail.resources.type",
		"aws.cloudtrail.flattened.request_parameters.durationSeconds", "aws.cloudtrail.flattened.request_parameters.roleArn",
		FieldASNumber, FieldASOrg,
	})
	q := make([]string, len(fields))
	for i, f := range fields {
		q[i] = f + ": *"
	}
	r, err := Inline("v", "values", strings.Join(q, " or "), []string{"event.action"}, "1d")
	if err != nil {
		t.Fatal(err)
	}
	set, err := NewSet([]*Rule{r})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	each(t, set, amazon, func(i int, d *Doc) {
		for _, f := range fields {
			var want []cloudtrail.Value
			switch f {
			case FieldASNumber:
				want = []cloudtrail.Value{{Kind: cloudtrail.Number, Str: "16509", Num: 16509}}
			case FieldASOrg:
				want = []cloudtrail.Value{cloudtrail.StringValue("Amazon.com, Inc.")}
			default:
				want = d.Event().Get(f, nil)
			}
			got := d.Values(set.reg.ids[f])
			if len(got) != len(want) {
				t.Fatalf("event %d %s: %v, want %v", i, f, got, want)
			}
			for j, w := range want {
				if g := got[j]; g.Kind.String() != w.Kind.String() || g.Str != w.Str || g.Num != w.Num {
					t.Errorf("event %d %s[%d]: %+v, want %+v", i, f, j, g, w)
				}
				kinds[w.Kind.String()]++
			}
		}
	})
	if kinds["string"] == 0 || kinds["number"] == 0 || kinds["bool"] == 0 {
		t.Errorf("values of kinds %v: the test does not cover every kind", kinds)
	}
}

// The index never changes a verdict: Match equals testing every rule.
func TestIndexEquivalence(t *testing.T) {
	rs := benchRules(t, 50)
	set, err := NewSet(rs)
	if err != nil {
		t.Fatal(err)
	}
	orgs := []Enrichment{{}, {HasAS: true, ASNumber: 16509, ASOrg: "Amazon.com, Inc."}, {HasAS: true, ASNumber: 7922, ASOrg: "Comcast"}}
	checked := 0
	for _, enr := range orgs {
		each(t, set, func(int) Enrichment { return enr }, func(i int, d *Doc) {
			checked += indexAgrees(t, set, i, d)
		})
	}
	if checked == 0 {
		t.Error("no rule matched any event: the test shows nothing")
	}
}

func TestTermsProduct(t *testing.T) {
	r, err := Inline("t", "product", "event.action: *", []string{"aws.cloudtrail.resources.arn", "aws.cloudtrail.resources.type", "cloud.account.id"}, "1d")
	if err != nil {
		t.Fatal(err)
	}
	set, err := NewSet([]*Rule{r})
	if err != nil {
		t.Fatal(err)
	}
	each(t, set, amazon, func(i int, d *Doc) {
		var all []string
		overflow := r.Terms(d, 0, func(tu []string) { all = append(all, strings.Join(tu, "|")) })
		switch i {
		case 5: // two resources of two types: 2 x 2 x 1
			want := []string{
				"arn:aws:iam::111122223333:role/ReadOnly|AWS::IAM::Role|111122223333",
				"arn:aws:iam::111122223333:role/ReadOnly|AWS::IAM::SAMLProvider|111122223333",
				"arn:aws:iam::111122223333:saml-provider/Okta|AWS::IAM::Role|111122223333",
				"arn:aws:iam::111122223333:saml-provider/Okta|AWS::IAM::SAMLProvider|111122223333",
			}
			if !slices.Equal(all, want) || overflow != 0 {
				t.Errorf("product = %v (overflow %d)", all, overflow)
			}
			var capped []string
			if n := r.Terms(d, 3, func(tu []string) { capped = append(capped, tu[0]) }); n != 1 || len(capped) != 3 {
				t.Errorf("capped at 3: %v, overflow %d", capped, n)
			}
		case 4: // duplicate resources count once
			if len(all) != 1 {
				t.Errorf("duplicates: %v", all)
			}
		case 0:
			if len(all) != 0 || !slices.Equal(r.Missing(d), []string{"aws.cloudtrail.resources.arn", "aws.cloudtrail.resources.type"}) {
				t.Errorf("no resources: %v, missing %v", all, r.Missing(d))
			}
		}
	})
}

// benchRules is the conf rules plus generated ones in the style of
// Elastic's CloudTrail rules, n in all.
func benchRules(t testing.TB, n int) []*Rule {
	_, rep, err := Load(confRules)
	if err != nil {
		t.Fatal(err)
	}
	rs := rep.Loaded
	providers := []string{"iam", "ec2", "s3", "kms", "lambda", "rds", "sts", "secretsmanager", "ssm", "cloudtrail", "guardduty", "organizations"}
	verbs := []string{"Delete", "Put", "Create", "Update", "Attach", "Modify", "Disable", "Stop"}
	for i := len(rs); i < n; i++ {
		p := providers[i%len(providers)]
		q := fmt.Sprintf(`event.dataset: aws.cloudtrail and event.provider: %s.amazonaws.com and event.action: (%sThing%d or %sOther%d) and event.outcome: success and not aws.cloudtrail.user_identity.type: AWSService`,
			p, verbs[i%len(verbs)], i, verbs[(i+1)%len(verbs)], i)
		if i%10 == 0 { // some rules file under the provider only
			q = fmt.Sprintf(`event.provider: %s.amazonaws.com and event.action: %s* and user_agent.original: *Boto3*`, p, verbs[i%len(verbs)])
		}
		r, err := Inline(fmt.Sprintf("gen-%02d", i), fmt.Sprintf("generated %d", i), q, []string{"aws.cloudtrail.user_identity.arn"}, "now-7d")
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	return rs
}

// BenchmarkMatch: 50 rules. "none" is an event that no rule matches (most
// of real traffic); "matching" one that two rules match, with their terms.
func BenchmarkMatch(b *testing.B) {
	set, err := NewSet(benchRules(b, 50))
	if err != nil {
		b.Fatal(err)
	}
	recs := readEvents(b)
	dec := cloudtrail.NewDecoder(cloudtrail.Options{})
	for _, c := range []struct {
		name string
		rec  []byte
	}{{"none", recs[8]}, {"matching", recs[11]}} {
		b.Run(c.name, func(b *testing.B) {
			d := set.NewDoc()
			var matched int
			fn := func(r *Rule) {
				matched++
				r.Terms(d, 0, func([]string) {})
			}
			dec.Decode(c.rec, func(ev *cloudtrail.Event) {
				b.ReportAllocs()
				for b.Loop() {
					d.Reset(ev, Enrichment{HasAS: true, ASNumber: 16509, ASOrg: "Amazon.com, Inc."})
					set.Match(d, fn)
				}
			})
			b.ReportMetric(float64(matched)/float64(b.N), "rules/op")
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, over := range []map[string]string{nil, {"index": ""}, {"query": `'''a: (b or c*)'''`}, {"value": `["x"]`}} {
		f.Add([]byte(ruleTOML(over)))
	}
	seed, _ := os.ReadFile(filepath.Join(confRules, "initial_access_sts_web_identity_new_role_asn.toml"))
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, skip, fail := Parse("f.toml", data)
		if fail == nil && skip == "" {
			if r == nil || r.Key == "" || len(r.Fields) < 1 || len(r.Fields) > 3 || r.Window <= 0 {
				t.Fatalf("accepted a bad rule: %+v", r)
			}
			if _, err := NewSet([]*Rule{r}); err != nil {
				t.Fatalf("parsed but does not compile: %v", err)
			}
		}
	})
}

// indexAgrees checks that the set's index finds the rules that testing each
// rule on event i finds, and returns how many matched.
func indexAgrees(t *testing.T, set *Set, i int, d *Doc) int {
	t.Helper()
	var viaIndex, brute []string
	set.Match(d, func(r *Rule) { viaIndex = append(viaIndex, r.ID) })
	for _, r := range set.Rules() {
		if r.query.Match(d) {
			brute = append(brute, r.ID)
		}
	}
	slices.Sort(viaIndex)
	slices.Sort(brute)
	if !slices.Equal(viaIndex, brute) {
		t.Errorf("event %d: index %v, brute force %v", i, viaIndex, brute)
	}
	return len(brute)
}

// A tree laid out like a detection-rules checkout, with a file of each
// kind it holds: only the CloudTrail new_terms rules load, and every other
// file is skipped with its reason; nothing fails.
func TestLoadCheckout(t *testing.T) {
	const dir = "testdata/checkout"
	_, rep, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var loaded []string
	for _, r := range rep.Loaded {
		loaded = append(loaded, r.Name)
	}
	slices.Sort(loaded)
	if want := []string{"Test: Console Login from a New Address", "Test: Role Policy Attached by Rare User"}; !slices.Equal(loaded, want) {
		t.Errorf("loaded %q, want %q", loaded, want)
	}
	for _, f := range rep.Failed {
		t.Errorf("failed: %v", f)
	}
	skips := map[string]string{
		"rules/integrations/aws/defense_evasion_test_trail_stopped.toml": `type "query", not new_terms`,
		"rules/integrations/aws/impact_test_many_deletions.toml":         `type "threshold", not new_terms`,
		"rules/integrations/aws/exfiltration_test_esql.toml":             `type "esql", not new_terms`,
		"rules/integrations/aws/collection_test_eql_sequence.toml":       `type "eql", not new_terms`,
		"rules/integrations/okta/persistence_test_okta_new_terms.toml":   "not for CloudTrail: index [filebeat-* logs-okta*] does not match logs-aws.cloudtrail-default",
		"rules/windows/execution_test_no_index_new_terms.toml":           "new_terms field host.id is not a field CloudTrail events have here",
		"rules/ml/test_rare_method.toml":                                 `type "machine_learning", not new_terms`,
		"rules/threat_intel/test_indicator_match.toml":                   `type "threat_match", not new_terms`,
		"rules/_deprecated/persistence_test_deprecated_new_terms.toml":   "deprecated",
		"rules_building_block/discovery_test_building_block.toml":        `type "query", not new_terms`,
		"hunting/aws/queries/test_hunt.toml":                             "no rule.type: not a detection rule",
		"tests/data/test_esql_rule.toml":                                 `type "esql", not new_terms`,
		"pyproject.toml":                                                 "no rule.type: not a detection rule",
	}
	for _, s := range rep.Skipped {
		rel, _ := filepath.Rel(dir, s.File)
		rel = filepath.ToSlash(rel)
		want, ok := skips[rel]
		switch {
		case !ok:
			t.Errorf("skipped %s: %s", rel, s.Reason)
		case s.Reason != want:
			t.Errorf("%s skipped for %q, want %q", rel, s.Reason, want)
		}
		delete(skips, rel)
	}
	for f := range skips {
		t.Errorf("%s not skipped", f)
	}
}

// An object path as Elasticsearch's exists query reads it: field: * holds
// when any field below it has a value, enrichment's included; a value
// test on it matches nothing. Object paths are no new_terms fields.
func TestObjectPaths(t *testing.T) {
	cases := []struct {
		query string
		enr   Enrichment
		want  []int // events of readEvents that match
	}{
		{`aws.cloudtrail.flattened.response_elements: *`, Enrichment{}, []int{0, 2, 4, 10, 11}},
		{`tls: * and not aws.cloudtrail.flattened.response_elements: *`, Enrichment{}, []int{8}},
		{`source.as: *`, Enrichment{}, nil},
		{`source.as: *`, Enrichment{HasAS: true, ASNumber: 1}, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}},
		{`user: alice`, Enrichment{}, nil},
		{`not user: alice`, Enrichment{}, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}},
	}
	for _, c := range cases {
		r, err := Inline("o", "object", c.query, []string{"event.action"}, "1d")
		if err != nil {
			t.Fatal(err)
		}
		set, err := NewSet([]*Rule{r})
		if err != nil {
			t.Fatal(err)
		}
		var got []int
		each(t, set, func(int) Enrichment { return c.enr }, func(i int, d *Doc) {
			if r.query.Match(d) {
				got = append(got, i)
			}
		})
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: events %v, want %v", c.query, got, c.want)
		}
	}
	if _, err := Inline("o", "object", "event.action: *", []string{"aws.cloudtrail.flattened.request_parameters"}, "1d"); err == nil {
		t.Error("an object path is a new_terms field")
	}
}

// ResetLazy matches and gives tuples as Reset does, and looks enrichment
// up only for events whose candidate rules read it, once an event.
func TestResetLazy(t *testing.T) {
	set, _, err := Load(confRules)
	if err != nil {
		t.Fatal(err)
	}
	result := func(d *Doc) string {
		var out []string
		set.Match(d, func(r *Rule) {
			r.Terms(d, 0, func(tu []string) { out = append(out, r.Name+": "+strings.Join(tu, "|")) })
		})
		return strings.Join(out, "\n")
	}
	dec := cloudtrail.NewDecoder(cloudtrail.Options{})
	eager, lazy := set.NewDoc(), set.NewDoc()
	calls, looked, events := 0, 0, 0
	enrich := func(*cloudtrail.Event) Enrichment { calls++; return amazon(0) }
	for _, rec := range readEvents(t) {
		dec.Decode(rec, func(ev *cloudtrail.Event) {
			events++
			eager.Reset(ev, amazon(0))
			want := result(eager)
			before := calls
			lazy.ResetLazy(ev, enrich)
			if got := result(lazy); got != want {
				t.Errorf("event %d: lazy\n%s\nwant\n%s", events, got, want)
			}
			if calls-before > 1 {
				t.Errorf("event %d: enrichment looked up %d times", events, calls-before)
			}
			looked += calls - before
			if lazy.Enrichment() != amazon(0) {
				t.Errorf("event %d: Enrichment() = %+v", events, lazy.Enrichment())
			}
		})
	}
	if looked == 0 || looked == events {
		t.Errorf("enrichment looked up for %d of %d events: the test shows nothing", looked, events)
	}
}
