package engine

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/newterms/newterms/internal/alert"
	"github.com/newterms/newterms/internal/cloudtrail"
	"github.com/newterms/newterms/internal/synth"
)

const (
	roleRule    = "../../conf/rules/initial_access_sts_web_identity_new_role_asn.toml"
	subjectRule = "../../conf/rules/initial_access_sts_web_identity_new_subject_asn.toml"
	testASN     = "../../testdata/asn/GeoLite2-ASN-Test.mmdb"
)

func exact(time.Duration) time.Duration { return 0 }

// newEngine runs the rules of conf/ with the settings' defaults (zero sizes
// are the defaults; internal/config, above this package, checks that they
// are also the keys' documented ones).
func newEngine(t testing.TB, dir string, learnOnly bool, mod func(*Config)) *Engine {
	t.Helper()
	cfg := Config{Learning: true, Prefilter: true}
	cfg.Rules = []string{roleRule, subjectRule}
	cfg.ASNDatabase = testASN
	cfg.ASNReloadInterval = -1
	cfg.StateDir = dir
	if mod != nil {
		mod(&cfg)
	}
	e, err := New(cfg, Options{LearnOnly: learnOnly, Granularity: exact})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func ruleKeys(t testing.TB, e *Engine) (role, subject string) {
	for _, r := range e.Rules().Rules() {
		switch r.ID {
		case "7f3c2a10-5b1e-4c55-9d0a-2e6f1b8c4a01":
			role = r.Key
		case "7f3c2a10-5b1e-4c55-9d0a-2e6f1b8c4a02":
			subject = r.Key
		}
	}
	if role == "" || subject == "" {
		t.Fatal("seed rules not loaded")
	}
	return role, subject
}

// drain takes the alert ids out of the outbox.
func drain(t testing.TB, e *Engine, into *[]string) {
	t.Helper()
	alerts, err := e.State().Outbox(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range alerts {
		var doc struct {
			Newterms struct {
				AlertID string `json:"alert_id"`
			}
		}
		if err := json.Unmarshal(a.Doc, &doc); err != nil {
			t.Fatal(err)
		}
		*into = append(*into, doc.Newterms.AlertID)
	}
	if err := e.State().Delete(alerts); err != nil {
		t.Fatal(err)
	}
}

func ids(as []synth.Alert, from int) []string {
	var out []string
	for _, a := range as {
		if a.Index >= from {
			out = append(out, alert.ID(a.RuleKey, a.Tuple, a.EventID))
		}
	}
	slices.Sort(out)
	return out
}

// The engine's alerts equal the oracle's exactly: same tuples, same first
// events, same ids; with the stream cut into random batches, restarts
// between batches, and bad records mixed in.
func TestOracle(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			events := synth.Stream(synth.Options{Seed: seed, Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Days: 24, Events: 4000})
			dir := t.TempDir()
			e := newEngine(t, dir, false, nil)
			role, subject := ruleKeys(t, e)
			want := ids(synth.Expected(events, role, subject, 10*24*time.Hour), 0)
			if len(want) < 10 {
				t.Fatalf("the oracle expects only %d alerts: the stream shows too little", len(want))
			}
			rng := rand.New(rand.NewPCG(seed, 99))
			var got []string
			bad, counted := 0, 0
			for i := 0; i < len(events); {
				var batch []Record
				for n := 1 + rng.IntN(200); n > 0 && i < len(events); n-- {
					batch = append(batch, Record{Data: events[i].JSON})
					i++
					if rng.IntN(100) == 0 {
						// Bad records that name a rule's action, so that the
						// prefilter lets them through to be counted.
						batch = append(batch, Record{Data: []byte(`{"eventSource":"sts.amazonaws.com","eventName":"AssumeRoleWithWebIdentity`)},
							Record{Data: []byte(`{"eventSource":"sts.amazonaws.com","eventName":"AssumeRoleWithWebIdentity"}`)})
						bad += 2
					}
				}
				res, err := e.Process(batch)
				if err != nil {
					t.Fatal(err)
				}
				counted += len(res.Errors)
				drain(t, e, &got)
				if rng.IntN(8) == 0 {
					e.Close()
					e = newEngine(t, dir, false, nil)
				}
			}
			e.Close()
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("alerts differ from the oracle: got %d, want %d\n%s", len(got), len(want), diff(got, want))
			}
			if counted != bad {
				t.Errorf("%d bad records, %d counted", bad, counted)
			}
		})
	}
}

// A learn-only backfill over the first days, then live traffic: exactly the
// oracle's alerts for the live part.
func TestBackfillThenLive(t *testing.T) {
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	events := synth.Stream(synth.Options{Seed: 42, Start: start, Days: 20, Events: 4000})
	split := len(events) / 2 // days 1-10, then 11-20
	dir := t.TempDir()
	e := newEngine(t, dir, true, nil)
	role, subject := ruleKeys(t, e)
	var recs []Record
	for _, ev := range events[:split] {
		recs = append(recs, Record{Data: ev.JSON})
	}
	res, err := e.Process(recs)
	if err != nil || res.Alerts != 0 {
		t.Fatalf("backfill: %+v %v", res, err)
	}
	if st := e.Stats(); st.Backfilled == 0 || st.Novel != 0 {
		t.Errorf("backfill counters: %+v", st)
	}
	e.Close()
	e = newEngine(t, dir, false, nil)
	defer e.Close()
	var got []string
	for i := split; i < len(events); i += 100 {
		var batch []Record
		for _, ev := range events[i:min(i+100, len(events))] {
			batch = append(batch, Record{Data: ev.JSON})
		}
		if _, err := e.Process(batch); err != nil {
			t.Fatal(err)
		}
		drain(t, e, &got)
	}
	slices.Sort(got)
	want := ids(synth.Expected(events, role, subject, 10*24*time.Hour), split)
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("live alerts differ from the oracle: got %d, want %d\n%s", len(got), len(want), diff(got, want))
	}
}

func diff(got, want []string) string {
	var b strings.Builder
	for _, g := range got {
		if !slices.Contains(want, g) {
			fmt.Fprintf(&b, "unexpected %s\n", g)
		}
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			fmt.Fprintf(&b, "missing %s\n", w)
		}
	}
	return b.String()
}

func TestAlertDocument(t *testing.T) {
	dir := t.TempDir()
	e := newEngine(t, dir, false, func(c *Config) { c.Learning = false; c.IncludeOriginal = true })
	defer e.Close()
	events := synth.Stream(synth.Options{Seed: 7, Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Days: 1, Events: 200})
	var ev synth.Event
	for _, x := range events {
		if x.Action == "AssumeRoleWithWebIdentity" && x.Success && len(x.Roles) == 1 {
			ev = x
			break
		}
	}
	res, err := e.Process([]Record{{Data: ev.JSON}})
	if err != nil || res.Alerts != 2 {
		t.Fatalf("%+v %v", res, err)
	}
	alerts, _ := e.State().Outbox(0, 0)
	var doc map[string]any
	if err := json.Unmarshal(alerts[0].Doc, &doc); err != nil {
		t.Fatal(err)
	}
	nt := doc["newterms"].(map[string]any)
	rule := nt["rule"].(map[string]any)
	terms := nt["terms"].(map[string]any)
	evd := doc["event"].(map[string]any)
	src := doc["source"].(map[string]any)
	checks := map[string]bool{
		"event.kind alert":     evd["kind"] == "alert",
		"event.original":       evd["original"] == string(ev.JSON),
		"event.action":         evd["action"] == "AssumeRoleWithWebIdentity",
		"source.as.number":     src["as"].(map[string]any)["number"] == float64(ev.ASN),
		"rule name":            rule["name"] != "",
		"rule severity":        rule["severity"] == "high",
		"rule risk_score":      rule["risk_score"] == float64(73),
		"rule threat":          strings.Contains(fmt.Sprint(rule["threat"]), "T1550.001"),
		"terms":                len(terms) == 2 && terms["source.as.number"] == fmt.Sprint(ev.ASN),
		"history_window":       nt["history_window"] == "now-10d",
		"first_seen":           nt["first_seen"] == ev.Time.Format(time.RFC3339Nano),
		"alert id":             len(nt["alert_id"].(string)) == 32,
		"message names rule":   strings.Contains(doc["message"].(string), "not seen in the last 10 days"),
		"message names values": strings.Contains(doc["message"].(string), fmt.Sprintf("source.as.number=AS%d (", ev.ASN)),
	}
	for name, ok := range checks {
		if !ok {
			t.Errorf("%s: %s", name, alerts[0].Doc)
		}
	}
}

// webIdentity is a successful AssumeRoleWithWebIdentity from the test ASN
// database's AS 16509, for role n; payload is put into requestParameters.
func webIdentity(n int, payload string) []byte {
	return []byte(fmt.Sprintf(`{"eventVersion":"1.08","userIdentity":{"type":"WebIdentityUser","principalId":"sub","userName":"system:serviceaccount:ns:sa"},`+
		`"eventTime":"2026-03-01T10:00:00Z","eventSource":"sts.amazonaws.com","eventName":"AssumeRoleWithWebIdentity","awsRegion":"us-east-1",`+
		`"sourceIPAddress":"3.5.1.7","userAgent":"aws-sdk-go-v2/1.24.0","requestParameters":{"roleArn":"arn:aws:iam::111122223333:role/r-%[1]d"%[2]s},`+
		`"eventID":"ev-%[1]d","readOnly":true,"resources":[{"accountId":"111122223333","type":"AWS::IAM::Role","ARN":"arn:aws:iam::111122223333:role/r-%[1]d"}],`+
		`"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}`, n, payload))
}

// No cap on alerts: Kibana creates at most max_signals (100) a rule run and
// drops the rest; here one batch of 10,000 events, each with a tuple never
// seen, puts 10,000 alerts into the outbox, one per tuple.
func TestNoAlertCap(t *testing.T) {
	const n = 10000
	e := newEngine(t, t.TempDir(), false, func(c *Config) { c.Rules = []string{roleRule}; c.Learning = false })
	defer e.Close()
	batch := make([]Record, n)
	for i := range batch {
		batch[i] = Record{Data: webIdentity(i, "")}
	}
	res, err := e.Process(batch)
	if err != nil || res.Alerts != n || len(res.Errors) != 0 {
		t.Fatalf("%d alerts, %d errors, %v", res.Alerts, len(res.Errors), err)
	}
	alerts, err := e.State().Outbox(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	roles, ids := map[string]bool{}, map[string]bool{}
	for _, a := range alerts {
		var doc struct {
			Kibana struct {
				Alert struct {
					NewTerms []string `json:"new_terms"`
					UUID     string
				}
			}
		}
		if err := json.Unmarshal(a.Doc, &doc); err != nil {
			t.Fatal(err)
		}
		if nt := doc.Kibana.Alert.NewTerms; len(nt) != 2 || nt[1] != "16509" {
			t.Fatalf("new_terms %q: %s", nt, a.Doc)
		}
		roles[doc.Kibana.Alert.NewTerms[0]], ids[doc.Kibana.Alert.UUID] = true, true
	}
	if len(alerts) != n || len(roles) != n || len(ids) != n {
		t.Errorf("outbox: %d alerts, %d roles, %d ids; want %d of each", len(alerts), len(roles), len(ids), n)
	}
	if st := e.Stats(); st.Alerts != n || st.OutboxAlerts != n {
		t.Errorf("counted %d alerts, %d in the outbox", st.Alerts, st.OutboxAlerts)
	}
}

// A record holding numbers that fastjson reads but JSON cannot write (NaN,
// +1, 01) or a float64 cannot hold (1e400) still gives its alert, with
// those numbers as strings: the batch commits rather than being retried
// for ever.
func TestAlertOfOddNumbers(t *testing.T) {
	e := newEngine(t, t.TempDir(), false, func(c *Config) { c.Rules = []string{roleRule}; c.Learning = false; c.IncludeOriginal = true })
	defer e.Close()
	res, err := e.Process([]Record{{Data: webIdentity(1, `,"durationSeconds":NaN,"a":+1,"b":01,"c":-Inf,"d":1e400,"e":[1.5,.5]`)}})
	if err != nil || res.Alerts != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	alerts, _ := e.State().Outbox(0, 0)
	var doc struct {
		AWS struct {
			CloudTrail struct {
				Flattened struct {
					RequestParameters map[string]any `json:"request_parameters"`
				}
			}
		} `json:"aws"`
	}
	if err := json.Unmarshal(alerts[0].Doc, &doc); err != nil {
		t.Fatalf("%v: %s", err, alerts[0].Doc)
	}
	want := map[string]any{"roleArn": "arn:aws:iam::111122223333:role/r-1", "durationSeconds": "NaN", "a": "+1", "b": "01", "c": "-Inf", "d": "1e400", "e": []any{1.5, ".5"}}
	if rp := doc.AWS.CloudTrail.Flattened.RequestParameters; fmt.Sprint(rp) != fmt.Sprint(want) {
		t.Errorf("request_parameters %v, want %v", rp, want)
	}
}

func TestProcessErrors(t *testing.T) {
	dir := t.TempDir()
	e := newEngine(t, dir, false, func(c *Config) { c.Prefilter = false })
	res, err := e.Process([]Record{
		{Data: []byte("{")},
		{Data: []byte("not json")},
		{Data: []byte(`{"other":1}`)},
	})
	if err != nil || len(res.Errors) != 3 || res.Records != 3 {
		t.Fatalf("%+v %v", res, err)
	}
	for i, want := range []cloudtrail.ErrorKind{cloudtrail.ErrJSON, cloudtrail.ErrShape, cloudtrail.ErrShape} {
		var ce *cloudtrail.Error
		if re := res.Errors[i]; re.Record != i+1 || !errors.As(re, &ce) || ce.Kind != want {
			t.Errorf("record error %d: %v, want one of kind %s", i, re, want)
		}
	}
	st := e.Stats()
	if st.ParseErrors[string(cloudtrail.ErrJSON)] != 1 || st.ParseErrors[string(cloudtrail.ErrShape)] != 2 {
		t.Errorf("parse errors %v", st.ParseErrors)
	}
	e.Close()
	// With the prefilter, JSON records that name nothing a rule needs are
	// skipped unparsed; text that is not JSON (an encoded envelope) is not.
	e = newEngine(t, dir, false, nil)
	res, err = e.Process([]Record{{Data: []byte("{")}, {Data: []byte(`{"eventName":"GetObject"}`)}, {Data: []byte("not json")}})
	if st := e.Stats(); err != nil || st.Prefiltered != 2 || len(res.Errors) != 1 {
		t.Errorf("prefilter: %+v %v, %d prefiltered", res, err, st.Prefiltered)
	}
	if !e.Prefilter().Enabled {
		t.Errorf("prefilter off: %+v", e.Prefilter())
	}
	e.Close()
	// An unwritable state: New fails cleanly.
	if _, err := New(Config{StateDir: dir, Rules: []string{roleRule}}, Options{}); err == nil {
		t.Log("reopen fine")
	}
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Rules: []string{roleRule}}, "state_dir is missing"},
		{Config{StateDir: t.TempDir()}, "no rule loaded"},
		{Config{StateDir: t.TempDir(), Rules: []string{"/nonexistent"}}, "nonexistent"},
		{Config{StateDir: t.TempDir(), Rules: []string{roleRule}, ASNDatabase: "/nonexistent.mmdb"}, "nonexistent.mmdb"},
	} {
		if _, err := New(c.cfg, Options{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err = %v, want %q", c.cfg, err, c.want)
		}
	}
}

// Validate holds the settings to the engine's invariants, zero meaning the
// default, and names every setting that breaks one in a single error.
func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want []string // each named in the error; nil: valid
	}{
		{"zero sizes are the defaults", Config{StateDir: "s"}, nil},
		{"at the bounds", Config{StateDir: "s", RecordKeys: []string{"log"}, MaxRecordSize: MinRecordSize, CacheSize: MinCacheSize,
			MaxTuples: MaxMaxTuples, ASNReloadInterval: MinReloadInterval, MaxLateness: MaxMaxLateness}, nil},
		{"reload never, lateness at its least", Config{StateDir: "s", ASNReloadInterval: -1, MaxLateness: MinLateness}, nil},
		{"no state", Config{}, []string{"state_dir is missing"}},
		{"shared state", Config{StateBackend: BackendRedis, Redis: RedisConfig{Address: "redis://h"}}, nil},
		{"shared state without an address, with a reorder window", Config{StateBackend: BackendRedis, MaxLateness: time.Minute},
			[]string{"redis_address is missing", "max_lateness = 1m0s: needs state_backend pebble"}},
		{"unknown backend", Config{StateBackend: "etcd"}, []string{`state_backend = "etcd"`}},
		{"every bound broken", Config{RecordKeys: []string{"log", ""}, MaxRecordSize: MinRecordSize - 1, CacheSize: MinCacheSize - 1,
			MaxTuples: MaxMaxTuples + 1, ASNReloadInterval: time.Millisecond, MaxLateness: MaxMaxLateness + time.Second},
			[]string{"state_dir", "record_key", "max_record_size = 1023", "cache_size = 1048575", "max_tuples = 100001",
				"asn_reload_interval = 1ms", "max_lateness = 24h0m1s"}},
		{"negative", Config{StateDir: "s", MaxRecordSize: -1, CacheSize: -1, MaxTuples: -1, MaxLateness: -time.Second},
			[]string{"max_record_size = -1", "cache_size = -1", "max_tuples = -1", "max_lateness = -1s"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			if c.want == nil {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("valid; want %q", c.want)
			}
			if n := strings.Count(err.Error(), "\n") + 1; n != len(c.want) {
				t.Errorf("%d problems, want %d: %v", n, len(c.want), err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want it to name %q", err, w)
				}
			}
		})
	}
}

// A record whose work panics, while it is matched or while its alert is
// built, is skipped and counted; the rest of its batch commits, the state's
// lock is released (the next batch and Close would hang otherwise), and
// the alerts are the oracle's over the stream without the poison records.
func TestPoisonRecord(t *testing.T) {
	for _, stage := range []string{"match", "alert"} {
		t.Run(stage, func(t *testing.T) {
			events := synth.Stream(synth.Options{Seed: 5, Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Days: 24, Events: 3000})
			e := newEngine(t, t.TempDir(), false, nil)
			defer e.Close()
			role, subject := ruleKeys(t, e)
			// The poison: every 7th event that gives an alert.
			poison := map[string]bool{}
			for i, a := range synth.Expected(events, role, subject, 10*24*time.Hour) {
				if i%7 == 3 {
					poison[a.EventID] = true
				}
			}
			var clean []synth.Event
			for _, ev := range events {
				if !poison[ev.ID] {
					clean = append(clean, ev)
				}
			}
			want := ids(synth.Expected(clean, role, subject, 10*24*time.Hour), 0)
			e.hook = func(s string, ev *cloudtrail.Event) {
				if s == stage && poison[ev.ID()] {
					panic("poison " + ev.ID())
				}
			}
			var got []string
			panics := 0
			for i := 0; i < len(events); i += 250 {
				var batch []Record
				for _, ev := range events[i:min(i+250, len(events))] {
					batch = append(batch, Record{Data: ev.JSON})
				}
				res, err := e.Process(batch)
				if err != nil {
					t.Fatal(err)
				}
				for _, re := range res.Errors {
					var p PanicError
					if !errors.As(re, &p) || !poison[events[i+re.Record-1].ID] {
						t.Errorf("unexpected record error %v", re)
					}
					panics++
				}
				drain(t, e, &got)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("alerts differ from the oracle without the poison records: got %d, want %d\n%s", len(got), len(want), diff(got, want))
			}
			if panics != len(poison) || e.Stats().Panics != int64(len(poison)) {
				t.Errorf("%d poison records, %d reported, %d counted", len(poison), panics, e.Stats().Panics)
			}
		})
	}
}

// Four workers process a stream's chunks at once (Fluent Bit's workers 4
// on a backlog), the chunks' order shuffled within a window, with
// max_lateness covering how much older an event can be than the newest
// checked before it: after the release at the end, the alerts are exactly
// those of the stream in event-time order, each once; one worker on the
// chunks in order gives the same.
func TestOracleReordered(t *testing.T) {
	const workers, shuffle = 4, 4 // shuffle: chunks an early one may be overtaken by
	for seed := range uint64(3) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			events := synth.Stream(synth.Options{Seed: seed, Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Days: 24, Events: 8000})
			// The engine reads eventTime to the second; events of one time
			// are ordered by id.
			timeOrder := slices.Clone(events)
			for i := range timeOrder {
				timeOrder[i].Time = timeOrder[i].Time.Truncate(time.Second)
			}
			slices.SortStableFunc(timeOrder, func(a, b synth.Event) int {
				return cmp.Or(a.Time.Compare(b.Time), strings.Compare(a.ID, b.ID))
			})
			rng := rand.New(rand.NewPCG(seed, 4))
			var chunks [][]Record
			var newest []time.Time // per chunk
			var oldest []time.Time
			for i := 0; i < len(events); {
				var c []Record
				var lo, hi time.Time
				for n := 1 + rng.IntN(30); n > 0 && i < len(events); n-- {
					c = append(c, Record{Data: events[i].JSON})
					at := events[i].Time.Truncate(time.Second)
					if lo.IsZero() || at.Before(lo) {
						lo = at
					}
					if at.After(hi) {
						hi = at
					}
					i++
				}
				chunks, oldest, newest = append(chunks, c), append(oldest, lo), append(newest, hi)
			}
			// Arrival order: each chunk moves back by up to shuffle places.
			order := make([]int, len(chunks))
			keys := make([]float64, len(chunks))
			for i := range order {
				order[i], keys[i] = i, float64(i)+rng.Float64()*shuffle
			}
			slices.SortFunc(order, func(a, b int) int { return cmp.Compare(keys[a], keys[b]) })
			// The chunk at place p starts once the one at p-workers is
			// done: when it is checked, nothing after p+workers-1 has been.
			var lateness time.Duration
			var hw time.Time
			for p := range order {
				for q := p; q < min(p+workers, len(order)); q++ {
					if newest[order[q]].After(hw) {
						hw = newest[order[q]]
					}
				}
				lateness = max(lateness, hw.Sub(oldest[order[p]]))
			}
			lateness += time.Second
			if lateness > 24*time.Hour {
				t.Fatalf("the shuffle needs a window of %s", lateness)
			}
			window := func(c *Config) { c.MaxLateness = lateness }

			e := newEngine(t, t.TempDir(), false, window)
			role, subject := ruleKeys(t, e)
			want := ids(synth.Expected(timeOrder, role, subject, 10*24*time.Hour), 0)
			inStream := ids(synth.Expected(events, role, subject, 10*24*time.Hour), 0)
			t.Logf("max_lateness %s, %d alerts in event-time order, %d in stream order", lateness, len(want), len(inStream))

			done := make([]chan struct{}, len(order))
			for p := range done {
				done[p] = make(chan struct{})
			}
			work := make(chan int)
			var wg sync.WaitGroup
			var failed atomic.Value
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for p := range work {
						if p >= workers {
							<-done[p-workers]
						}
						if _, err := e.Process(chunks[order[p]]); err != nil {
							failed.Store(err)
						}
						close(done[p])
					}
				}()
			}
			for p := range order {
				work <- p
			}
			close(work)
			wg.Wait()
			if err, _ := failed.Load().(error); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Release(); err != nil {
				t.Fatal(err)
			}
			var got []string
			drain(t, e, &got)
			e.Close()
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("4 workers, shuffled: alerts differ from event-time order: got %d, want %d\n%s", len(got), len(want), diff(got, want))
			}

			e = newEngine(t, t.TempDir(), false, window)
			got = nil
			for _, c := range chunks {
				if _, err := e.Process(c); err != nil {
					t.Fatal(err)
				}
				drain(t, e, &got)
			}
			n, err := e.Release()
			if err != nil || e.Stats().Held != 0 {
				t.Fatalf("release: %d, %v, %d still held", n, err, e.Stats().Held)
			}
			drain(t, e, &got)
			e.Close()
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("1 worker, in order: alerts differ from event-time order: got %d, want %d\n%s", len(got), len(want), diff(got, want))
			}
		})
	}
}
