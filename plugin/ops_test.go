package main

import (
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/newterms/newterms/internal/config"
)

// harnessLog runs the harness and returns its stdout lines and its log
// (stderr), whatever the exit.
func harnessLog(t *testing.T, args ...string) (lines []string, log string, err error) {
	t.Helper()
	cmd := exec.Command(harnessPath, append([]string{"-so", soPath}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	return strings.Split(strings.TrimSpace(string(out)), "\n"), stderr.String(), err
}

var metricLine = regexp.MustCompile(`^metric (\S+?)(\{.*\}) (\S+)$`)

// metricValues reads the harness's "metric name{labels} value" lines.
func metricValues(t *testing.T, lines []string) map[string]float64 {
	t.Helper()
	got := map[string]float64{}
	for _, l := range lines {
		m := metricLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		got[m[1]+m[2]] = v
	}
	return got
}

// In a host that offers cmetrics as Fluent Bit does (the harness with
// -metrics), the plugin's series carry the engine's counters, are all
// created during init, and are never touched once exit has returned: the
// harness aborts on either, and lingers past the plugin's publish
// interval to catch a late publish.
func TestHarnessMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the plugin")
	}
	s := newSetup(t, 1, 2000, 250, "alias ct")
	r := listen(t, s.sock)
	lines, log, err := harnessLog(t, append([]string{"-metrics", "-linger", fmt.Sprint(2 * publishInterval.Milliseconds()), "-props", s.props}, s.chunks...)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	want := s.expected(t)
	if len(received(r)) != len(want) {
		t.Fatalf("received %d alerts, want %d", len(received(r)), len(want))
	}
	got := metricValues(t, lines)
	const p = "fluentbit_output_newterms_"
	for name, v := range map[string]float64{
		p + `records_total{name="ct"}`:                       float64(len(s.events)),
		p + `alerts_total{name="ct"}`:                        float64(len(want)),
		p + `delivered_alerts_total{name="ct"}`:              float64(len(want)),
		p + `rules{name="ct"}`:                               2,
		p + `outbox_alerts{name="ct"}`:                       0,
		p + `bad_records_total{name="ct",kind="unreadable"}`: 0,
		p + `commit_failures_total{name="ct"}`:               0,
		p + `delivery_failing{name="ct"}`:                    0,
	} {
		if g, ok := got[name]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", name, g, ok, v)
		}
	}
	count := got[p+`commit_duration_seconds_count{name="ct"}`]
	if count == 0 || got[p+`commit_duration_seconds_bucket{name="ct",le="+Inf"}`] != count || got[p+`state_size_bytes{name="ct"}`] <= 0 ||
		got[p+`events_total{name="ct"}`]+got[p+`prefiltered_records_total{name="ct"}`] < float64(len(s.events)) {
		t.Errorf("commits %v, +Inf %v, state %v, events %v + prefiltered %v", count, got[p+`commit_duration_seconds_bucket{name="ct",le="+Inf"}`],
			got[p+`state_size_bytes{name="ct"}`], got[p+`events_total{name="ct"}`], got[p+`prefiltered_records_total{name="ct"}`])
	}
	if !strings.Contains(log, `metrics: in Fluent Bit's own metrics as fluentbit_output_newterms_*{name="ct"}`) {
		t.Errorf("the init does not say where its metrics are:\n%s", log)
	}
}

// Without the host's cmetrics (struct flb_api's member is not the host's
// function), the plugin says so and runs on.
func TestHarnessMetricsUnavailable(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the plugin")
	}
	s := newSetup(t, 1, 100, 100)
	listen(t, s.sock)
	lines, log, err := harnessLog(t, append([]string{"-props", s.props}, s.chunks...)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	if len(metricValues(t, lines)) != 0 || !strings.Contains(log, "[warn] [output:newterms] metrics: not in Fluent Bit's own metrics: struct flb_api's output_get_cmt_instance is not the host's") {
		t.Errorf("log:\n%s", log)
	}
}

// metrics_listen is asked for explicitly: an address that cannot be had
// fails the init, and two instances of one process share one address.
func TestHarnessMetricsListen(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the plugin")
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	s := newSetup(t, 1, 100, 100, "metrics_listen "+busy.Addr().String())
	_, log, err := harnessLog(t, "-props", s.props)
	if err == nil || !strings.Contains(log, "metrics_listen "+busy.Addr().String()) || !strings.Contains(log, "address already in use") {
		t.Errorf("a busy address: %v\n%s", err, log)
	}

	a := newSetup(t, 1, 100, 100, "metrics_listen 127.0.0.1:0")
	b := newSetup(t, 1, 100, 100, "metrics_listen 127.0.0.2:0")
	lines, log, err := harnessLog(t, "-props", a.props, "-props", b.props)
	if err == nil || !strings.Contains(strings.Join(lines, "\n"), "init 0 rc 1\ninit 1 rc 0") || !strings.Contains(log, "one address per Fluent Bit") {
		t.Errorf("two addresses: %v\n%s\n%s", err, lines, log)
	}
	c := newSetup(t, 1, 100, 100, "metrics_listen 127.0.0.1:0", "alias second")
	listen(t, a.sock)
	listen(t, c.sock)
	if _, log, err := harnessLog(t, "-props", a.props, "-props", c.props); err != nil || strings.Count(log, "metrics: on http://127.0.0.1:") != 2 {
		t.Errorf("two instances, one address: %v\n%s", err, log)
	}
}

// The config_map goes to the host only past both gates: room for the
// field in the host's block (a 32- or 40-byte definition has none), and
// the host's flb_config_map_create reading the array with the stride it
// was laid out with (104 bytes: 5.0.3 on).
func TestHarnessConfigMap(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the plugin")
	}
	s := newSetup(t, 1, 10, 10)
	listen(t, s.sock)
	for _, tc := range []struct {
		defSize, stride int
		registered      bool
		log             string
	}{
		{32, 104, false, "this Fluent Bit has no config_map for Go plugins"},
		{40, 104, false, "this Fluent Bit has no config_map for Go plugins"},
		{48, 96, false, "config_map layout is not the one known"},
		{48, 104, true, "Fluent Bit checks key names"},
	} {
		t.Run(fmt.Sprintf("def %d stride %d", tc.defSize, tc.stride), func(t *testing.T) {
			lines, log, err := harnessLog(t, "-def-size", fmt.Sprint(tc.defSize), "-map-stride", fmt.Sprint(tc.stride), "-props", s.props)
			if err != nil {
				t.Fatalf("%v\n%s", err, log)
			}
			out := strings.Join(lines, "\n")
			if strings.Contains(out, fmt.Sprintf("config_map %d keys", len(config.Keys()))) != tc.registered || !strings.Contains(log, tc.log) {
				t.Errorf("registered %v, want %v; log:\n%s", strings.Contains(out, "config_map"), tc.registered, log)
			}
		})
	}
}

func TestVersionBefore(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want bool
	}{
		{"5.1.1", false}, {"5.1.2", false}, {"5.2.0", false}, {"6.0", false}, {"5.1.10", false},
		{"5.1.0", true}, {"5.0.9", true}, {"4.2.8", true}, {"3.2.10", true}, {"5.1", true}, {"5.1.1-rc1", false},
	} {
		if got := versionBefore(tc.v, 5, 1, 1); got != tc.want {
			t.Errorf("versionBefore(%q) = %v", tc.v, got)
		}
	}
}
