package metrics

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

func TestParseListen(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"", "", ""}, {"off", "", ""}, {"OFF", "", ""},
		{"on", DefaultListen, ""},
		{"2021", "127.0.0.1:2021", ""},
		{"127.0.0.1:9000", "127.0.0.1:9000", ""},
		{"0.0.0.0:9000", "0.0.0.0:9000", ""},
		{"[::1]:9000", "[::1]:9000", ""},
		{"localhost:0", "localhost:0", ""},
		{"70000", "", "want a port from 1 to 65535"},
		{"0", "", "want a port from 1 to 65535"},
		{"host", "", "want off, on, a port, or host:port"},
		{"host:port", "", "want a port from 0 to 65535 after the host"},
	} {
		got, err := ParseListen(tc.in)
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
			t.Errorf("ParseListen(%q) = %q, %v; want %q, %q", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := get(t, "http://"+addr+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	return fams
}

// value finds a series by its labels.
func value(fams map[string]*dto.MetricFamily, name string, labels map[string]string) (*dto.Metric, bool) {
	f := fams[name]
	if f == nil {
		return nil, false
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		return m, true
	}
	return nil, false
}

// The endpoint serves each instance's series in Prometheus text, beside
// the Go runtime's, and /healthz judges them.
func TestServer(t *testing.T) {
	srv, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if code, body := get(t, "http://"+srv.Addr()+"/healthz"); code != 503 || !strings.Contains(body, "no instance running") {
		t.Errorf("healthz with no instance: %d %s", code, body)
	}
	var a, b atomic.Pointer[Snapshot]
	a.Store(snapshot())
	second := snapshot()
	second.Engine.Records, second.Forward.Failing = 7, false
	b.Store(second)
	src := func(name string, p *atomic.Pointer[Snapshot]) *Source {
		return &Source{Name: name, Layout: NewLayout(p.Load(), build), Snapshot: func() Snapshot { return *p.Load() }}
	}
	removeA, err := srv.Add(src("a", &a))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Add(src("a", &b)); err == nil {
		t.Error("a second source named a")
	}
	if _, err := srv.Add(src("b", &b)); err != nil {
		t.Fatal(err)
	}
	fams := scrape(t, srv.Addr())
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"fluentbit_output_newterms_records_total", map[string]string{"name": "a"}, 1000},
		{"fluentbit_output_newterms_records_total", map[string]string{"name": "b"}, 7},
		{"fluentbit_output_newterms_bad_records_total", map[string]string{"name": "a", "kind": "invalid_json"}, 5},
		{"fluentbit_output_newterms_matched_events_total", map[string]string{"name": "a", "rule_id": "r2", "rule": "Subject from a new network"}, 30},
		{"fluentbit_output_newterms_outbox_oldest_age_seconds", map[string]string{"name": "a"}, 90},
		{"fluentbit_output_newterms_build_info", map[string]string{"name": "b", "version": "v1.0.0"}, 1},
	} {
		m, ok := value(fams, tc.name, tc.labels)
		got := 0.0
		if ok && m.Counter != nil {
			got = m.Counter.GetValue()
		} else if ok {
			got = m.Gauge.GetValue()
		}
		if !ok || got != tc.want {
			t.Errorf("%s%v = %v (found %v), want %v", tc.name, tc.labels, got, ok, tc.want)
		}
	}
	if m, ok := value(fams, "fluentbit_output_newterms_commit_duration_seconds", map[string]string{"name": "a"}); !ok ||
		m.Histogram.GetSampleCount() != 5 || m.Histogram.Bucket[3].GetCumulativeCount() != 4 {
		t.Errorf("histogram %v", m)
	}
	if fams["go_goroutines"] == nil {
		t.Error("no Go runtime series")
	}

	// a's delivery fails: degraded, still 200.
	code, body := get(t, "http://"+srv.Addr()+"/healthz")
	var h struct {
		Status    string
		Instances map[string]Health
	}
	if err := json.Unmarshal([]byte(body), &h); err != nil || code != 200 || h.Status != "ok" ||
		h.Instances["a"].Status != "degraded" || h.Instances["b"].Status != "ok" {
		t.Errorf("healthz: %d %s", code, body)
	}
	failing := snapshot()
	failing.Problems = []string{"state commits failing"}
	a.Store(failing)
	if code, body := get(t, "http://"+srv.Addr()+"/healthz"); code != 503 || !strings.Contains(body, `"state commits failing"`) {
		t.Errorf("healthz while a's commits fail: %d %s", code, body)
	}
	removeA()
	if _, ok := value(scrape(t, srv.Addr()), "fluentbit_output_newterms_records_total", map[string]string{"name": "a"}); ok {
		t.Error("a removed, still served")
	}
}

// One server per process: instances share it, another address is
// refused, and it closes with the last instance and opens again with the
// next (a hot reload).
func TestShared(t *testing.T) {
	var sh Shared
	s := snapshot()
	src := func(name string) *Source {
		return &Source{Name: name, Layout: NewLayout(s, build), Snapshot: func() Snapshot { return *s }}
	}
	leave1, addr, err := sh.Join("127.0.0.1:0", src("one"))
	if err != nil {
		t.Fatal(err)
	}
	leave2, addr2, err := sh.Join(addr, src("two"))
	if err != nil || addr2 != addr {
		t.Fatalf("second instance: %v on %s", err, addr2)
	}
	if _, _, err := sh.Join("127.0.0.2:1", src("three")); err == nil || !strings.Contains(err.Error(), "serves metrics on "+addr+" already") {
		t.Errorf("another address: %v", err)
	}
	if _, _, err := sh.Join(addr, src("one")); err == nil {
		t.Error("a second instance named one")
	}
	fams := scrape(t, addr)
	if len(fams["fluentbit_output_newterms_records_total"].Metric) != 2 {
		t.Errorf("series of two instances: %v", fams["fluentbit_output_newterms_records_total"])
	}
	leave1()
	leave1() // twice is once
	get(t, "http://"+addr+"/metrics")
	leave2()
	if _, err := http.Get("http://" + addr + "/metrics"); err == nil {
		t.Error("still serving after the last instance left")
	}
	leave3, addr3, err := sh.Join(addr, src("three"))
	if err != nil || addr3 != addr {
		t.Fatalf("reopening on %s: %v (%s)", addr, err, addr3)
	}
	defer leave3()
	if _, ok := value(scrape(t, addr), "fluentbit_output_newterms_rules", map[string]string{"name": "three"}); !ok {
		t.Error("the reopened server serves nothing")
	}
}
