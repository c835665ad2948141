package metrics

import (
	"encoding/json"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/newterms/newterms/internal/asn"
	"github.com/newterms/newterms/internal/engine"
	"github.com/newterms/newterms/internal/forward"
	"github.com/newterms/newterms/internal/version"
)

var (
	at    = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	build = version.Info{Version: "v1.0.0", Commit: "abc", Go: "go1.26.0"}
)

// snapshot is an instance's counters with a value of its own in each.
func snapshot() *Snapshot {
	c := engine.Counters{
		Records: 1000, Prefiltered: 900, Events: 120, Alerts: 3,
		Insights: 1, Digests: 2, Notifications: 3, Control: 4,
		ParseErrors: map[string]int64{"invalid_json": 5, "too_deep": 1},
		Matched: []engine.RuleCount{
			{Name: "Role from a new network", Key: "r1:aa", ID: "r1", Events: 40},
			{Name: "Subject from a new network", Key: "r2:bb", ID: "r2", Events: 30},
		},
		TuplesChecked: 70, Novel: 3, SuppressedLearning: 7, Backfilled: 0,
		TupleOverflow: 2, NoTime: 6, Panics: 1, Held: 4,
		CacheHitRatio: 0.75, CacheHits: 30, StoreReads: 10,
		Commits: 5, CommitTotal: 5 * time.Millisecond, OutboxAlerts: 2, OutboxBytes: 2048,
		OutboxOldest: at.Add(-90 * time.Second), StateBytes: 1 << 20, Rules: 2,
		ASN: asn.Meta{Schema: asn.MaxMind, BuildTime: time.Unix(1767225600, 0), Reloads: 3},
	}
	c.CommitLatency[1] = 2                         // <= 250us
	c.CommitLatency[3] = 2                         // <= 1ms
	c.CommitLatency[len(engine.CommitBuckets)] = 1 // above 5s
	return &Snapshot{Engine: c, Forward: forward.Stats{Delivered: 1, Failures: 8, Failing: true}, Unreadable: 9, CommitFailures: 11, At: at}
}

var metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)

// Every family has a valid, unique Prometheus name that says its type
// the way Prometheus's conventions do, a help text and valid labels.
func TestFamilies(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range Families() {
		name := f.FullName()
		if !metricName.MatchString(name) || seen[name] || !strings.HasPrefix(name, "fluentbit_output_newterms_") {
			t.Errorf("bad or repeated name %q", name)
		}
		seen[name] = true
		if f.Help == "" || !strings.HasSuffix(f.Help, ".") {
			t.Errorf("%s: help %q", name, f.Help)
		}
		if (f.Type == Counter) != strings.HasSuffix(name, "_total") {
			t.Errorf("%s: a %s", name, f.Type)
		}
		for _, l := range f.Labels {
			if !metricName.MatchString(l) || l == InstanceLabel || strings.HasPrefix(l, "__") {
				t.Errorf("%s: label %q", name, l)
			}
		}
	}
}

// The snapshot's counters land in the series they mean.
func TestValues(t *testing.T) {
	s := snapshot()
	l := NewLayout(s, build)
	got := map[string]float64{}
	var hist *Hist
	for j, v := range l.Values(s, nil) {
		ser := l.Series()[j]
		if ser.Family.Type == Histogram {
			hist = v.Hist
			continue
		}
		got[ser.Family.Name+"{"+strings.Join(ser.Labels, ",")+"}"] = v.Number
	}
	want := map[string]float64{
		"records_total{}": 1000, "prefiltered_records_total{}": 900, "events_total{}": 120,
		"bad_records_total{invalid_json}": 5, "bad_records_total{too_deep}": 1, "bad_records_total{panic}": 1,
		"bad_records_total{unreadable}": 9, "bad_records_total{too_large}": 0, "bad_records_total{other}": 0,
		"bad_records_total{invalid_utf8}": 0, "bad_records_total{invalid_base64}": 0, "bad_records_total{invalid_gzip}": 0,
		"bad_records_total{wrong_type}": 0, "bad_records_total{not_cloudtrail}": 0,
		"not_events_total{insights}": 1, "not_events_total{digest}": 2, "not_events_total{notification}": 3, "not_events_total{control}": 4,
		"matched_events_total{r1,Role from a new network}": 40, "matched_events_total{r2,Subject from a new network}": 30,
		"no_time_events_total{}": 6, "tuples_checked_total{}": 70, "novel_tuples_total{}": 10, "alerts_total{}": 3,
		"suppressed_learning_total{}": 7, "tuple_overflow_total{}": 2, "cache_hits_total{}": 30, "store_reads_total{}": 10,
		"commit_failures_total{}": 11, "delivered_alerts_total{}": 1, "delivery_failures_total{}": 8, "asn_reloads_total{}": 3,
		"rules{}": 2, "outbox_alerts{}": 2, "outbox_bytes{}": 2048, "outbox_oldest_age_seconds{}": 90, "held_events{}": 4,
		"cache_hit_ratio{}": 0.75, "delivery_failing{}": 1, "state_size_bytes{}": 1 << 20,
		"asn_database_build_timestamp_seconds{}": 1767225600, "build_info{v1.0.0,abc,go1.26.0}": 1,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected series %s", k)
		}
	}
	if hist == nil || hist.Count != 5 || hist.Sum != 0.005 || len(hist.Cumulative) != len(engine.CommitBuckets) ||
		hist.Cumulative[0] != 0 || hist.Cumulative[1] != 2 || hist.Cumulative[3] != 4 || hist.Cumulative[len(hist.Cumulative)-1] != 4 {
		t.Errorf("histogram %+v", hist)
	}
}

// A layout's series never change after init, whatever later snapshots
// hold: a rule unknown at init, a new kind of bad record, an ASN database
// or a state size that cannot be told.
func TestLayoutFixed(t *testing.T) {
	first := snapshot()
	l := NewLayout(first, build)
	later := snapshot()
	later.Engine.Matched = append(later.Engine.Matched[1:], engine.RuleCount{Name: "new", Key: "r3:cc", ID: "r3", Events: 99})
	later.Engine.ParseErrors["a_kind_added_later"] = 7
	later.Engine.StateBytes = -1
	later.Engine.ASN = asn.Meta{}
	values := l.Values(later, nil)
	if len(values) != len(l.Series()) {
		t.Fatalf("%d values for %d series", len(values), len(l.Series()))
	}
	for j, s := range l.Series() {
		v := values[j].Number
		switch {
		case s.Family == Matched && s.Labels[0] == "r1" && v != 0:
			t.Errorf("a rule gone from the snapshot: %v", v)
		case s.Family == Matched && s.Labels[0] == "r3":
			t.Error("a series for a rule unknown at init")
		case s.Family == BadRecords && s.Labels[0] == KindOther && v != 7:
			t.Errorf("an unknown kind is not counted as other: %v", v)
		case s.Family == StateSize && !math.IsNaN(v):
			t.Errorf("a size that cannot be told: %v", v)
		case s.Family == ASNBuild && v != 0:
			t.Errorf("asn build %v", v)
		}
	}
	// Without a state size or ASN database at init, those series do not exist.
	none := snapshot()
	none.Engine.StateBytes, none.Engine.ASN = -1, asn.Meta{}
	for _, s := range NewLayout(none, build).Series() {
		if s.Family == StateSize || s.Family == ASNBuild || s.Family == ASNReloads {
			t.Errorf("series %s without its subject", s.Family.Name)
		}
	}
}

func TestSummary(t *testing.T) {
	prev := snapshot()
	cur := snapshot()
	cur.Engine.Records += 500
	cur.Engine.Alerts += 2
	cur.Engine.ParseErrors = map[string]int64{"invalid_json": 8, "too_deep": 1}
	cur.Engine.Commits += 2
	cur.Engine.CommitTotal += 3 * time.Millisecond
	cur.Forward.Delivered += 4
	cur.Forward.Failing = false
	cur.CommitFailures++
	want := "records 1500 (+500), events 120 (+0), alerts 5 (+2), suppressed while learning 7 (+0), bad 19 (+3), " +
		"prefiltered 900, tuples checked 70, cache hits 75%, commits 7 (+2, mean 1.5ms), outbox 2 (oldest 1m30s), " +
		"delivered 5 (+4), failed commits +1"
	if got := Summary(prev, cur); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	cur.Forward.Failing = true
	cur.Forward.Failures += 3
	if got := Summary(prev, cur); !strings.Contains(got, ", delivery failures +3 (failing), ") {
		t.Errorf("an outage: %s", got)
	}
}

func TestMap(t *testing.T) {
	s := snapshot()
	s.Engine.StateBytes = -1
	l := NewLayout(snapshot(), build)
	b, err := json.Marshal(l.Map(s))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["records_total"] != 1000.0 || m["state_size_bytes"] != nil || m["cache_hit_ratio"] != 0.75 {
		t.Errorf("plain values: %s", b)
	}
	rules, _ := m["matched_events_total"].([]any)
	if len(rules) != 2 || rules[0].(map[string]any)["rule_id"] != "r1" || rules[0].(map[string]any)["value"] != 40.0 {
		t.Errorf("labelled values: %v", m["matched_events_total"])
	}
	h, _ := m["commit_duration_seconds"].(map[string]any)
	if h["count"] != 5.0 || len(h["buckets"].([]any)) != len(engine.CommitBuckets) {
		t.Errorf("histogram: %v", h)
	}
	for _, f := range Families() {
		if _, ok := m[f.Name]; !ok {
			t.Errorf("no %s in the map", f.Name)
		}
	}
	if len(m) != len(Families()) {
		t.Errorf("%d families in the map, want %d", len(m), len(Families()))
	}
}
