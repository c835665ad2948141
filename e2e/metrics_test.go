package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// freePort is a loopback port free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// client scrapes without keep-alive and with a deadline: after a hot
// reload Fluent Bit 3.2 leaves a kept-alive connection to its old HTTP
// server open and silent, and a read on it never returned (CI hung 21
// minutes there).
var client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// scrape reads Prometheus text from url; ok false while nothing answers.
func scrape(t *testing.T, url string) (map[string]*dto.MetricFamily, bool) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		return nil, false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		return nil, false
	}
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("%s: %v\n%s", url, err, body)
	}
	return fams, true
}

// metric is the value of the series of a family with the labels given.
func metric(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// The plugin's series in Fluent Bit's own endpoint
// (/api/v2/metrics/prometheus), beside Fluent Bit's series of the same
// instance, and on the plugin's own endpoint (metrics_listen) with
// /healthz: the counts equal the stream's and the oracle's, and both
// come back after a hot reload.
func TestMetrics(t *testing.T) {
	eachBinary(t, false, func(t *testing.T, bin string) {
		o := newOracle(t, 3, 40, 1500)
		fbPort, ownPort := freePort(t), freePort(t)
		p := newPipeline(t, bin, options{hotReload: true, httpPort: fbPort,
			extra: []string{"Alias", "ct", "metrics_listen", fmt.Sprint(ownPort)}})
		fb := p.start()
		procs := []*fluentBit{fb}
		waitFor(t, "the plugin's init", reloadLimit, procs, func() bool { return fb.count(initMark) == 1 })
		p.appendEvents(o, 0, len(o.events))
		p.waitAlerts(t, "every alert", o, len(o.events), procs)

		v2 := fmt.Sprintf("http://127.0.0.1:%d/api/v2/metrics/prometheus", fbPort)
		own := fmt.Sprintf("http://127.0.0.1:%d/metrics", ownPort)
		const nt = "fluentbit_output_newterms_"
		for _, url := range []string{v2, own} {
			// Published every second, after a flush: wait for the last.
			var fams map[string]*dto.MetricFamily
			waitFor(t, "the delivered alerts in "+url, alertLimit, procs, func() bool {
				var ok bool
				fams, ok = scrape(t, url)
				n, _ := metric(fams, nt+"delivered_alerts_total", "name", "ct")
				return ok && n == float64(len(o.ids))
			})
			for _, c := range []struct {
				name string
				want float64
			}{
				{"records_total", float64(len(o.events))},
				{"alerts_total", float64(len(o.ids))},
				{"rules", 2},
				{"outbox_alerts", 0},
				{"commit_failures_total", 0},
				{"delivery_failing", 0},
			} {
				if got, ok := metric(fams, nt+c.name, "name", "ct"); !ok || got != c.want {
					t.Errorf("%s: %s = %v (found %v), want %v", url, c.name, got, ok, c.want)
				}
			}
			events, _ := metric(fams, nt+"events_total", "name", "ct")
			pre, _ := metric(fams, nt+"prefiltered_records_total", "name", "ct")
			commits, _ := metric(fams, nt+"commit_duration_seconds", "name", "ct")
			if events+pre < float64(len(o.events)) || commits == 0 {
				t.Errorf("%s: %v events + %v prefiltered of %d records, %v commits", url, events, pre, len(o.events), commits)
			}
			if _, ok := metric(fams, nt+"matched_events_total", "name", "ct", "rule_id", "7f3c2a10-5b1e-4c55-9d0a-2e6f1b8c4a01"); !ok {
				t.Errorf("%s: no matched_events_total of the role rule", url)
			}
		}
		fams, _ := scrape(t, v2)
		if _, ok := metric(fams, "fluentbit_output_proc_records_total", "name", "ct"); !ok {
			t.Error("Fluent Bit's own series of the instance are not beside the plugin's")
		}
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", ownPort))
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("/healthz: %v %v", err, resp)
		} else {
			resp.Body.Close()
		}

		// A reload: the new instance's series start again, on both.
		fb.signal(syscall.SIGHUP)
		waitFor(t, "the reload", reloadLimit, procs, func() bool { return fb.count(initMark) >= 2 })
		for _, url := range []string{v2, own} {
			waitFor(t, "the series after the reload in "+url, 30*time.Second, procs, func() bool {
				fams, ok := scrape(t, url)
				n, found := metric(fams, nt+"rules", "name", "ct")
				return ok && found && n == 2
			})
		}
		fb.stop()
		t.Logf("%d records, %d alerts: the same in Fluent Bit's endpoint and the plugin's", len(o.events), len(o.ids))
	})
}
