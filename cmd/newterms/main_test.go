package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/newterms/newterms/internal/synth"
	"github.com/newterms/newterms/internal/testsupport"
)

const events = "../../testdata/cloudtrail/events.ndjson"

func runCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestNormalize(t *testing.T) {
	raw, err := os.ReadFile(events)
	if err != nil {
		t.Fatal(err)
	}
	n := bytes.Count(raw, []byte("\n"))
	dir := t.TempDir()
	gzPath := filepath.Join(dir, "sub", "records.json.gz")
	os.MkdirAll(filepath.Dir(gzPath), 0o755)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(`{"Records":[` + strings.Join(strings.Split(strings.TrimSpace(string(raw)), "\n"), ",") + `]}`))
	zw.Close()
	os.WriteFile(gzPath, buf.Bytes(), 0o644)
	var pretty bytes.Buffer
	json.Indent(&pretty, bytes.Split(raw, []byte("\n"))[0], "", "  ")
	prettyPath := filepath.Join(dir, "pretty.json")
	os.WriteFile(prettyPath, pretty.Bytes(), 0o644)
	truncated := filepath.Join(dir, "truncated.json.gz")
	os.WriteFile(truncated, buf.Bytes()[:buf.Len()/2], 0o644)
	bad := filepath.Join(dir, "bad.ndjson")
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	os.WriteFile(bad, []byte(lines[0]+"\n{broken\n"+lines[1]+"\n"), 0o644)

	cases := []struct {
		name     string
		stdin    string
		args     []string
		code     int
		docs     int
		errorHas string
	}{
		{"file", "", []string{"normalize", events}, 0, n, ""},
		{"stdin", string(raw), []string{"normalize"}, 0, n, ""},
		{"stdin dash", string(raw), []string{"normalize", "-"}, 0, n, ""},
		{"gzip in a directory", "", []string{"normalize", dir + "/sub"}, 0, n, ""},
		{"pretty-printed document", "", []string{"normalize", prettyPath}, 0, 1, ""},
		{"bad line stops", "", []string{"normalize", bad}, 1, 1, "bad.ndjson:2: invalid_json"},
		{"keep going", "", []string{"normalize", "--keep-going", bad}, 1, 2, "bad.ndjson:2: invalid_json"},
		// The records before the cut come out (docs -1: some, not all).
		{"truncated gzip", "", []string{"normalize", truncated}, 1, -1, "unexpected EOF"},
		{"missing file", "", []string{"normalize", filepath.Join(dir, "nope")}, 1, 0, "no such file"},
		{"bad flag", "", []string{"normalize", "--nope"}, 2, 0, "flag provided but not defined"},
		{"unknown command", "", []string{"frobnicate"}, 2, 0, `unknown command "frobnicate"`},
		{"no command", "", nil, 2, 0, "usage: newterms"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errs := runCLI(t, c.stdin, c.args...)
			if code != c.code {
				t.Errorf("exit %d, want %d; stderr: %s", code, c.code, errs)
			}
			docs := 0
			for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
				if l == "" {
					continue
				}
				var d map[string]any
				if err := json.Unmarshal([]byte(l), &d); err != nil || d["event"] == nil {
					t.Fatalf("not an ECS document: %s", l)
				}
				docs++
			}
			if c.docs < 0 && (docs == 0 || docs >= n) || c.docs >= 0 && docs != c.docs {
				t.Errorf("%d documents, want %d", docs, c.docs)
			}
			if c.errorHas != "" && !strings.Contains(errs, c.errorHas) {
				t.Errorf("stderr %q lacks %q", errs, c.errorHas)
			}
		})
	}
}

func TestASN(t *testing.T) {
	const db = "../../testdata/asn/GeoLite2-ASN-Test.mmdb"
	cases := []struct {
		name string
		args []string
		code int
		out  []string // substrings, one per output line
		errs string
	}{
		{"found and not", []string{"asn", "--db", db, "1.1.1.1", "216.160.83.56", "10.0.0.1"}, 0, []string{
			`{"address":"1.1.1.1","source":{"as":{"number":13335,"organization":{"name":"Cloudflare, Inc."}}},"database":{"type":"GeoLite2-ASN","schema":"maxmind","build_date":"2026-01-01T00:00:00Z"}}`,
			`{"address":"216.160.83.56","source":{"as":{"number":209}}`,
			`{"address":"10.0.0.1","database"`,
		}, ""},
		{"ipinfo", []string{"asn", "--db", "../../testdata/asn/ipinfo-lite-test.mmdb", "2606:4700::1"}, 0, []string{`"number":13335`}, ""},
		{"not an ip", []string{"asn", "--db", db, "sts.amazonaws.com"}, 1, []string{`"error":"not an IP address literal`}, ""},
		{"no db", []string{"asn", "1.1.1.1"}, 2, nil, "usage: newterms asn"},
		{"missing db", []string{"asn", "--db", "/nonexistent.mmdb", "1.1.1.1"}, 1, nil, "/nonexistent.mmdb"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errs := runCLI(t, "", c.args...)
			if code != c.code {
				t.Errorf("exit %d, want %d (%s)", code, c.code, errs)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(c.out) > 0 && len(lines) != len(c.out) {
				t.Fatalf("output %q, want %d lines", out, len(c.out))
			}
			for i, want := range c.out {
				if !strings.Contains(lines[i], want) {
					t.Errorf("line %d = %s, want %s", i, lines[i], want)
				}
			}
			if !strings.Contains(errs, c.errs) {
				t.Errorf("stderr %q lacks %q", errs, c.errs)
			}
		})
	}
}

func TestRules(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("[rule]\ntype = \"new_terms\"\nlanguage = \"kuery\"\nrule_id = \"x\"\nquery = '''event.action: (A'''\n[rule.new_terms]\nfield = \"new_terms_fields\"\nvalue = [\"user.id\"]\n[[rule.new_terms.history_window_start]]\nvalue = \"now-1d\"\n"), 0o644)
	ev := filepath.Join(dir, "ev.json")
	// A web identity event from AWS address space (in the test database).
	raw, _ := os.ReadFile(events)
	line := strings.Split(string(raw), "\n")[4]
	os.WriteFile(ev, []byte(strings.Replace(line, "198.51.100.7", "3.5.1.1", 1)+"\n"+strings.Split(string(raw), "\n")[0]+"\n"), 0o644)
	cases := []struct {
		name string
		args []string
		code int
		out  []string
	}{
		{"check conf", []string{"rules", "check", "../../conf/rules"}, 0, []string{"loaded 7, skipped 0, failed 0", "tested on every event",
			"prefilter on: 15 literals"}},
		{"check seed", []string{"rules", "check", "../../conf/rules/initial_access_sts_web_identity_new_role_asn.toml"}, 0, []string{"prefilter on: 2 literals"}},
		{"check failing", []string{"rules", "check", "../../conf/rules", bad}, 1, []string{"loaded 7, skipped 0, failed 1", "failed  " + bad + ":5:28: query: unexpected end of query"}},
		{"check usage", []string{"rules", "check"}, 2, nil},
		{"rules usage", []string{"rules"}, 2, nil},
		{"test", []string{"rules", "test", "--rules", "../../conf/rules", "--asn-db", "../../testdata/asn/GeoLite2-ASN-Test.mmdb", ev}, 0, []string{
			"ev.json:1 AssumeRoleWithWebIdentity 11111111-0000-4000-8000-000000000005",
			`  match "AWS STS Web Identity Role Assumed from a New Network"`,
			"    terms aws.cloudtrail.resources.arn=arn:aws:iam::111122223333:role/payments-api  source.as.number=16509",
			`  match "AWS STS Web Identity Subject Seen from a New Network"`,
			"ev.json:2 CreateUser",
			"  no rule matches",
		}},
		{"test without asn", []string{"rules", "test", "--rules", "../../conf/rules", ev}, 0, []string{"no rule matches"}},
		{"test usage", []string{"rules", "test", ev}, 2, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errs := runCLI(t, "", c.args...)
			if code != c.code {
				t.Errorf("exit %d, want %d (%s)", code, c.code, errs)
			}
			for _, want := range c.out {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

func TestReplayAndState(t *testing.T) {
	const sample = "../../testdata/cloudtrail/sample.ndjson.gz"
	db := "../../testdata/asn/GeoLite2-ASN-Test.mmdb"
	code, out, errs := runCLI(t, "", "replay", "--rules", "../../conf/rules", "--asn-db", db, sample)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	alerts := strings.Split(strings.TrimSpace(out), "\n")
	if len(alerts) < 10 || !strings.Contains(errs, "alerts "+fmt.Sprint(len(alerts))+",") {
		t.Fatalf("%d alerts; summary: %s", len(alerts), errs)
	}
	for _, a := range alerts {
		var doc struct {
			Event    struct{ Kind string }
			Newterms struct {
				AlertID string `json:"alert_id"`
			}
			Message string
		}
		if err := json.Unmarshal([]byte(a), &doc); err != nil || doc.Event.Kind != "alert" || doc.Newterms.AlertID == "" || doc.Message == "" {
			t.Fatalf("not an alert: %s", a)
		}
	}
	// The same replay gives the same alerts (ids are deterministic), with
	// any number of workers.
	for _, workers := range []string{"1", "3"} {
		_, again, _ := runCLI(t, "", "replay", "--rules", "../../conf/rules", "--asn-db", db, "--workers", workers, sample)
		if again != out {
			t.Errorf("a second replay with %s workers differs", workers)
		}
	}

	// Backfill into a kept state, then inspect it; a backfill with one
	// worker gives the same state (stats) as one with three.
	var states []string
	for _, workers := range []string{"1", "3"} {
		state := filepath.Join(t.TempDir(), "state")
		code, out, errs = runCLI(t, "", "replay", "--rules", "../../conf/rules", "--asn-db", db, "--state", state, "--learn-only", "--workers", workers, sample)
		if code != 0 || out != "" || !strings.Contains(errs, "recorded as baseline") {
			t.Fatalf("backfill: exit %d, out %q, %s", code, out, errs)
		}
		_, stats, _ := runCLI(t, "", "state", "stats", "--state", state)
		states = append(states, stats)
	}
	if states[0] != states[1] {
		t.Errorf("backfills with 1 and 3 workers differ:\n%s\n%s", states[0], states[1])
	}
	state := filepath.Join(t.TempDir(), "state")
	code, out, errs = runCLI(t, "", "replay", "--rules", "../../conf/rules", "--asn-db", db, "--state", state, "--learn-only", sample)
	if code != 0 || out != "" || !strings.Contains(errs, "recorded as baseline") {
		t.Fatalf("backfill: exit %d, out %q, %s", code, out, errs)
	}
	code, out, _ = runCLI(t, "", "state", "stats", "--state", state)
	if code != 0 || !strings.Contains(out, "AWS STS Web Identity Role Assumed from a New Network\n  key 7f3c2a10-5b1e-4c55-9d0a-2e6f1b8c4a01:") ||
		!strings.Contains(out, "covered") || !strings.Contains(out, "outbox: 0 alerts") {
		t.Errorf("stats: %s", out)
	}
	code, out, _ = runCLI(t, "", "state", "list", "--state", state, "--limit", "3", "AWS STS Web Identity Role Assumed from a New Network")
	if code != 0 || len(strings.Split(strings.TrimSpace(out), "\n")) != 3 || !strings.Contains(out, "arn:aws:iam::111122223333:role/") {
		t.Errorf("list: %s", out)
	}
	if code, out, _ = runCLI(t, "", "state", "compact", "--state", state); code != 0 || !strings.Contains(out, "removed") {
		t.Errorf("compact: %d %s", code, out)
	}
	if code, _, errs = runCLI(t, "", "state", "list", "--state", state, "no such rule"); code != 1 || !strings.Contains(errs, "no rule") {
		t.Errorf("list unknown: %d %s", code, errs)
	}
	if code, _, _ = runCLI(t, "", "state", "stats"); code != 2 {
		t.Error("stats without --state")
	}
	if code, _, _ = runCLI(t, "", "replay", sample); code != 2 {
		t.Error("replay without --rules")
	}
}

// The committed sample is exactly what its generator writes.
func TestSampleGenerated(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the generator")
	}
	out := filepath.Join(t.TempDir(), "sample.ndjson.gz")
	if msg, err := exec.Command("go", "run", "../../testdata/samplegen", "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, msg)
	}
	got, _ := os.ReadFile(out)
	want, _ := os.ReadFile("../../testdata/cloudtrail/sample.ndjson.gz")
	if !bytes.Equal(got, want) {
		t.Error("testdata/cloudtrail/sample.ndjson.gz differs from its generator's output: run go generate ./internal/synth")
	}
}

// Records in Firehose envelopes, base64 as Firehose sends them, give with
// the default prefilter the alerts the same records give unwrapped. The
// requests mix the forms, so that one decoder meets them in turn.
func TestReplayFirehose(t *testing.T) {
	const sample = "../../testdata/cloudtrail/sample.ndjson.gz"
	db := "../../testdata/asn/GeoLite2-ASN-Test.mmdb"
	raw := testsupport.Gunzip(t, sample)
	recs := bytes.Split(bytes.TrimSpace(raw), []byte("\n"))
	forms := []func(recs [][]byte) []byte{
		func(recs [][]byte) []byte { return synth.Firehose(each(recs, synth.Base64)...) },
		func(recs [][]byte) []byte {
			return synth.Firehose(each(recs, func(r []byte) []byte { return synth.Base64(synth.Gzip(r)) })...)
		},
		// A Lambda transform fed by a CloudWatch Logs subscription.
		func(recs [][]byte) []byte {
			return synth.FirehoseTransform(synth.Base64(synth.Gzip(synth.CloudWatchLogs(recs...))))
		},
	}
	var wrapped bytes.Buffer
	for i := 0; i < len(recs); i += 50 {
		wrapped.Write(forms[i/50%len(forms)](recs[i:min(i+50, len(recs))]))
		wrapped.WriteByte('\n')
	}
	firehose := filepath.Join(t.TempDir(), "firehose.ndjson")
	if err := os.WriteFile(firehose, wrapped.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	code, want, errs := runCLI(t, "", "replay", "--rules", "../../conf/rules", "--asn-db", db, sample)
	var skipped int
	fmt.Sscanf(errs, "records 4000 (%d skipped by the prefilter)", &skipped)
	if code != 0 || skipped == 0 || strings.Count(want, "\n") < 10 {
		t.Fatalf("unwrapped: exit %d, %d skipped, %d alerts: %s", code, skipped, strings.Count(want, "\n"), errs)
	}
	for _, workers := range []string{"1", "3"} {
		code, got, errs := runCLI(t, "", "replay", "--rules", "../../conf/rules", "--asn-db", db, "--workers", workers, firehose)
		if code != 0 || !strings.Contains(errs, fmt.Sprintf("events %d,", len(recs))) {
			t.Fatalf("firehose: exit %d: %s", code, errs)
		}
		if got != want {
			t.Errorf("firehose, %s workers: %d alerts, unwrapped %d; summary: %s", workers, strings.Count(got, "\n"), strings.Count(want, "\n"), errs)
		}
	}
}

func each(recs [][]byte, f func([]byte) []byte) [][]byte {
	out := make([][]byte, len(recs))
	for i, r := range recs {
		out[i] = f(r)
	}
	return out
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, errs := runCLI(t, "", args...)
		if code != 0 || errs != "" || !strings.HasPrefix(out, "newterms ") || !strings.Contains(out, "(commit ") || !strings.Contains(out, runtime.Version()) {
			t.Errorf("%v: exit %d, %q, %q", args, code, out, errs)
		}
	}
	if code, _, _ := runCLI(t, "", "version", "extra"); code != 2 {
		t.Errorf("version with an argument: exit %d", code)
	}
}

// The replay's summary carries the plugin's counters, as text or as JSON
// under the metrics' names; state stats --json the state's figures.
func TestReplaySummaryAndStatsJSON(t *testing.T) {
	const sample = "../../testdata/cloudtrail/sample.ndjson.gz"
	db := "../../testdata/asn/GeoLite2-ASN-Test.mmdb"
	state := filepath.Join(t.TempDir(), "state")
	code, out, errs := runCLI(t, "", "replay", "--rules", "../../conf/rules", "--asn-db", db, "--state", state, sample)
	if code != 0 || !strings.Contains(errs, "commits ") || !strings.Contains(errs, "cache hits ") || !strings.Contains(errs, ", state ") {
		t.Fatalf("text summary: exit %d\n%s", code, errs)
	}
	alerts := len(strings.Split(strings.TrimSpace(out), "\n"))
	code, _, errs = runCLI(t, "", "replay", "--rules", "../../conf/rules", "--asn-db", db, "--summary", "json", sample)
	var m map[string]any
	if code != 0 || json.Unmarshal([]byte(strings.TrimSpace(errs)), &m) != nil {
		t.Fatalf("json summary: exit %d\n%s", code, errs)
	}
	if m["alerts_total"] != float64(alerts) || m["records_total"] != 4000.0 || m["rules"] != 7.0 || m["outbox_alerts"] != 0.0 {
		t.Errorf("json summary: %s", errs)
	}
	if code, _, _ := runCLI(t, "", "replay", "--rules", "../../conf/rules", "--summary", "xml", sample); code != 2 {
		t.Errorf("--summary xml: exit %d", code)
	}
	if code, _, _ := runCLI(t, "", "replay", "--rules", "../../conf/rules", "--workers", "0", sample); code != 2 {
		t.Errorf("--workers 0: exit %d", code)
	}

	code, out, errs = runCLI(t, "", "state", "stats", "--state", state, "--json")
	var st struct {
		Rules []struct {
			Name    string
			Tuples  int64
			Covered bool
			Window  float64 `json:"window_seconds"`
		}
		OutboxAlerts int64  `json:"outbox_alerts"`
		StateSize    *int64 `json:"state_size_bytes"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
		t.Fatalf("stats --json: exit %d %s %s", code, out, errs)
	}
	if len(st.Rules) < 3 || st.OutboxAlerts != 0 || st.StateSize == nil || *st.StateSize <= 0 {
		t.Errorf("stats --json: %s", out)
	}
	tuples := int64(0)
	for _, r := range st.Rules {
		tuples += r.Tuples
		if r.Name == "" || r.Window <= 0 {
			t.Errorf("rule %+v", r)
		}
	}
	if tuples == 0 {
		t.Errorf("no tuples: %s", out)
	}
}
