package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/newterms/newterms/internal/synth"
	"github.com/newterms/newterms/internal/synth/synthtest"
	"github.com/newterms/newterms/internal/testsupport"
)

const (
	roleRule    = "../conf/rules/initial_access_sts_web_identity_new_role_asn.toml"
	subjectRule = "../conf/rules/initial_access_sts_web_identity_new_subject_asn.toml"
	asnDB       = "../testdata/asn/GeoLite2-ASN-Test.mmdb"
	// envPlugin names another build of the plugin to test (the Makefile's
	// is left alone then).
	envPlugin = "NEWTERMS_E2E_PLUGIN"
	// sharedBinaries is where the binaries are in the shared directory
	// (internal/testsupport).
	sharedBinaries = "fluent-bit"
)

// poll is how often waits look again; stopLimit bounds a SIGTERM exit:
// Fluent Bit's grace (5 s) plus the plugin's attempt to deliver at exit (5
// s) and room for a loaded machine.
const (
	poll      = 50 * time.Millisecond
	stopLimit = 30 * time.Second
	// alertLimit bounds the wait for alerts that are due: a restart, the
	// backlog's flush and a few retries.
	alertLimit = 60 * time.Second
)

// soPath is the plugin Fluent Bit loads.
var soPath = "../build/out_newterms.so"

var streamStart = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func TestMain(m *testing.M) {
	flag.Parse()
	if p := os.Getenv(envPlugin); p != "" {
		soPath = p
	} else if !testing.Short() {
		// `make test` builds it first; this covers a bare `go test`.
		cmd := exec.Command("make", "-C", "..", "build/out_newterms.so")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "make: %v\n%s", err, out)
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

// binary is one Fluent Bit executable.
type binary struct{ version, path string }

// binaries finds the Fluent Bit executables, or skips the suite naming
// where it looked.
func binaries(s *testsupport.Suite, t *testing.T) []binary {
	t.Helper()
	paths, where := testsupport.FluentBits(func() string { return filepath.Join(s.Shared(sharedBinaries), "fluent-bit-*") })
	var out []binary
	for _, m := range paths {
		version := strings.TrimPrefix(filepath.Base(m), "fluent-bit-")
		for slices.ContainsFunc(out, func(b binary) bool { return b.version == version }) {
			version += "+"
		}
		out = append(out, binary{version, abs(t, m)})
	}
	if len(out) == 0 {
		s.Skip(t, "no Fluent Bit binary at "+where)
	}
	return out
}

// conformance counts the cases of an e2e test (each a run in one Fluent
// Bit binary) for `make test` to show.
func conformance(t *testing.T) *testsupport.Suite {
	return testsupport.Conformance(t, "e2e/"+t.Name())
}

// eachBinary runs f as a subtest per Fluent Bit binary.
func eachBinary(t *testing.T, parallel bool, f func(t *testing.T, bin string)) {
	t.Helper()
	runBinaries(conformance(t), t, parallel, f)
}

// runBinaries is eachBinary counting the subtests as the cases of s.
func runBinaries(s *testsupport.Suite, t *testing.T, parallel bool, f func(t *testing.T, bin string)) {
	t.Helper()
	if testing.Short() {
		s.Skip(t, "runs Fluent Bit")
	}
	for _, b := range binaries(s, t) {
		t.Run(b.version, func(t *testing.T) {
			s.Case(t)
			if parallel {
				t.Parallel()
			}
			f(t, b.path)
		})
	}
}

func abs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// oracle is a seeded stream and the alerts a correct run gives for it.
type oracle struct {
	events  []synth.Event
	ids     []string // alert id of each expected alert, in stream order
	index   []int    // the event each alert comes from
	subject []bool   // the alert is the subject rule's
}

func newOracle(t *testing.T, seed uint64, days, n int) *oracle {
	t.Helper()
	o := &oracle{events: synth.Stream(synth.Options{Seed: seed, Start: streamStart, Days: days, Events: n})}
	alerts, ids := synthtest.Expected(t, roleRule, subjectRule, o.events)
	_, subjectKey := synthtest.Keys(t, roleRule, subjectRule)
	o.ids = ids
	for _, a := range alerts {
		o.index = append(o.index, a.Index)
		o.subject = append(o.subject, a.RuleKey == subjectKey)
	}
	if len(o.ids) == 0 {
		t.Fatal("the oracle expects no alert: the stream tests nothing")
	}
	return o
}

// before is the ids of the alerts from events before end.
func (o *oracle) before(end int) []string {
	var ids []string
	for i, id := range o.ids {
		if o.index[i] < end {
			ids = append(ids, id)
		}
	}
	return ids
}

// segments splits the stream into k consecutive parts that each end just
// after an alerting event, so that every part's processing shows as
// alerts. The last part runs to the end of the stream.
func (o *oracle) segments(t *testing.T, k int) [][2]int {
	t.Helper()
	var ends []int // distinct alerting events
	for _, i := range o.index {
		if len(ends) == 0 || ends[len(ends)-1] != i+1 {
			ends = append(ends, i+1)
		}
	}
	if k > len(ends) {
		t.Fatalf("%d segments asked, the stream has %d alerting events", k, len(ends))
	}
	var segs [][2]int
	from := 0
	for i := range k {
		end := ends[(i+1)*len(ends)/k-1]
		if i == k-1 {
			end = len(o.events)
		}
		segs = append(segs, [2]int{from, end})
		from = end
	}
	return segs
}

// ndjson is events [from, to) as tail reads them: one document a line.
func (o *oracle) ndjson(from, to int) []byte {
	var b bytes.Buffer
	for _, ev := range o.events[from:to] {
		b.Write(ev.JSON)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// options shape a pipeline.
type options struct {
	workers   int  // the newterms output's workers
	threaded  bool // the forward input's threaded
	hotReload bool
	// forwardTo, when set, is the unix socket the plugin delivers to (in
	// another Fluent Bit); this one then has no forward input.
	forwardTo string
	// outForward, when set, sends alerts on through out_forward to this
	// unix socket instead of into the file output.
	outForward string
	// receiver: only a forward input and the file output.
	receiver bool
	// state is the plugin's state_dir (default: state/ in the pipeline).
	state string
	// redis, when set, is a shared state's server (state_backend redis),
	// under the key prefix redisPrefix.
	redis, redisPrefix string
	// rules are the plugin's rule files (default: the two seed rules).
	rules []string
	// extra are more keys (and values) of the newterms output.
	extra []string
	// httpPort, when set, turns Fluent Bit's HTTP server on, on loopback.
	httpPort int
}

// pipeline is one Fluent Bit's configuration and files, all in one
// directory of the test's: the input (in/stream.ndjson), its storage, the
// plugin's state, the forward socket, the output (out/) and the log.
type pipeline struct {
	t    *testing.T
	bin  string
	dir  string
	opts options
}

func newPipeline(t *testing.T, bin string, opts options) *pipeline {
	t.Helper()
	p := &pipeline{t: t, bin: bin, dir: t.TempDir(), opts: opts}
	if len(p.sock()) >= 100 {
		t.Fatalf("socket path %s too long for a unix socket: use a shorter TMPDIR", p.sock())
	}
	if p.opts.state == "" {
		p.opts.state = filepath.Join(p.dir, "state")
	}
	for _, d := range []string{"in", "out", "storage"} {
		if err := os.MkdirAll(filepath.Join(p.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// tail follows this file from its start; it exists before Fluent Bit
	// does, so that the first segment is never found by a rescan.
	if err := os.WriteFile(p.input(), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.path("plugins.conf"), []byte("[PLUGINS]\n    Path "+abs(t, soPath)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.path("fluent-bit.conf"), []byte(p.config()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *pipeline) path(name string) string { return filepath.Join(p.dir, name) }
func (p *pipeline) sock() string            { return p.path("fwd.sock") }
func (p *pipeline) input() string           { return p.path("in/stream.ndjson") }

// config is the Fluent Bit configuration: the one conf/fluent-bit.conf
// recommends, with the test's paths and rules, a file output in place of
// Slack and S3, quicker flushes and retries, and tail reading a whole
// segment at once (see appendEvents).
func (p *pipeline) config() string {
	t, o := p.t, p.opts
	var b strings.Builder
	section := func(name string, kv ...string) {
		fmt.Fprintf(&b, "[%s]\n", name)
		for i := 0; i < len(kv); i += 2 {
			fmt.Fprintf(&b, "    %-17s %s\n", kv[i], kv[i+1])
		}
		b.WriteString("\n")
	}
	service := []string{
		"Flush", "0.2",
		"Grace", "5",
		"Log_Level", "info",
		"storage.path", p.path("storage"),
		"scheduler.base", "1",
		"scheduler.cap", "2",
	}
	if !o.receiver {
		service = append(service, "Plugins_File", p.path("plugins.conf"))
	}
	if o.hotReload {
		service = append(service, "Hot_Reload", "on")
	}
	if o.httpPort != 0 {
		service = append(service, "HTTP_Server", "on", "HTTP_Listen", "127.0.0.1", "HTTP_Port", fmt.Sprint(o.httpPort))
	}
	section("SERVICE", service...)
	if !o.receiver {
		section("INPUT",
			"Name", "tail",
			"Path", p.input(),
			"Tag", "cloudtrail",
			"Read_from_Head", "on",
			"DB", p.path("tail.db"),
			"storage.type", "filesystem",
			// One read takes a whole segment: a segment is then either
			// unread or in one chunk, never half of each, so that a restart
			// cannot process its two halves out of order.
			"Buffer_Chunk_Size", "16m",
			"Buffer_Max_Size", "16m",
		)
	}
	if o.forwardTo == "" {
		section("INPUT",
			"Name", "forward",
			"Unix_Path", p.sock(),
			"threaded", onOff(o.threaded),
			"storage.type", "filesystem",
		)
	}
	if !o.receiver {
		to := o.forwardTo
		if to == "" {
			to = p.sock()
		}
		rules := o.rules
		if rules == nil {
			rules = []string{abs(t, roleRule), abs(t, subjectRule)}
		}
		nt := []string{
			"Name", "newterms",
			"Match", "cloudtrail",
			"record_key", "log",
			"rules", strings.Join(rules, ","),
			"asn_database", abs(t, asnDB),
			"asn_reload_interval", "off",
			"state_dir", o.state,
			"forward_address", "unix://" + to,
			"Retry_Limit", "no_limits",
		}
		if o.workers > 0 {
			nt = append(nt, "workers", fmt.Sprint(o.workers))
		}
		if o.redis != "" {
			nt = append(nt, "state_backend", "redis", "redis_address", o.redis, "redis_key_prefix", o.redisPrefix)
		}
		nt = append(nt, o.extra...)
		section("OUTPUT", nt...)
	}
	switch {
	case o.forwardTo != "":
	case o.outForward != "":
		section("OUTPUT",
			"Name", "forward",
			"Match", "newterms.*",
			"Unix_Path", o.outForward,
			"Retry_Limit", "no_limits",
		)
	default:
		section("OUTPUT",
			"Name", "file",
			"Match", "newterms.*",
			"Path", p.path("out"),
			"File", "alerts.ndjson",
			"Format", "plain",
			"Retry_Limit", "no_limits",
		)
	}
	return b.String()
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// appendEvents appends events [from, to) to the input in one write: tail,
// woken by inotify after the write, reads it whole (see config).
func (p *pipeline) appendEvents(o *oracle, from, to int) {
	p.t.Helper()
	f, err := os.OpenFile(p.input(), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		p.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(o.ndjson(from, to)); err != nil {
		p.t.Fatal(err)
	}
}

// rewrite writes the configuration again (for a reload), with opts.
func (p *pipeline) rewrite(opts options) {
	p.t.Helper()
	p.opts = opts
	if err := os.WriteFile(p.path("fluent-bit.conf"), []byte(p.config()), 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// start runs Fluent Bit on the pipeline's configuration.
func (p *pipeline) start() *fluentBit {
	p.t.Helper()
	return startFluentBit(p.t, p.bin, p.path("fluent-bit.conf"), p.path("fluent-bit.log"))
}

var alertID = regexp.MustCompile(`"alert_id":"([0-9a-f]{32})"`)

// delivered counts each alert id in the file output. A line that a kill
// tore is counted only if it holds a whole id: its chunk is delivered
// again after the restart.
func (p *pipeline) delivered() map[string]int {
	got := map[string]int{}
	b, err := os.ReadFile(p.path("out/alerts.ndjson"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		p.t.Fatal(err)
	}
	for _, m := range alertID.FindAllSubmatch(b, -1) {
		got[string(m[1])]++
	}
	return got
}

// has reports whether every id was delivered.
func has(got map[string]int, ids []string) bool {
	for _, id := range ids {
		if got[id] == 0 {
			return false
		}
	}
	return true
}

// waitAlerts waits until the alerts of the events before end are all
// delivered; at the deadline it fails naming the events of those missing.
func (p *pipeline) waitAlerts(t *testing.T, what string, o *oracle, end int, procs []*fluentBit) {
	t.Helper()
	ids := o.before(end)
	waitFor(t, what, alertLimit, procs, func() bool { return has(p.delivered(), ids) }, func() string {
		got := p.delivered()
		var missing []int
		for i, id := range ids {
			if got[id] == 0 {
				missing = append(missing, o.index[i])
			}
		}
		return fmt.Sprintf("%d of %d alerts missing, from the events at %v", len(missing), len(ids), missing)
	})
}

// verdict compares deliveries with the oracle: every alert delivered, none
// the oracle does not expect; duplicates (the same alert id again, which
// at-least-once delivery allows) are counted and logged.
func verdict(t *testing.T, want []string, got map[string]int) {
	t.Helper()
	var missing, extra []string
	dups := 0
	for _, id := range want {
		if got[id] == 0 {
			missing = append(missing, id)
		}
	}
	for id, n := range got {
		if !slices.Contains(want, id) {
			extra = append(extra, id)
		}
		dups += n - 1
	}
	t.Logf("alerts: expected %d, delivered %d, duplicates %d, missing %d, extra %d", len(want), len(got), dups, len(missing), len(extra))
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("missing %v, extra %v", missing, extra)
	}
}

// fluentBit is one running Fluent Bit process, in its own process group.
type fluentBit struct {
	t    *testing.T
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error // how it ended, once done is closed
}

func startFluentBit(t *testing.T, bin, conf, log string) *fluentBit {
	t.Helper()
	return startFluentBitIn(t, bin, conf, log, filepath.Dir(conf))
}

// startFluentBitIn starts Fluent Bit in the working directory dir, with
// more environment variables.
func startFluentBitIn(t *testing.T, bin, conf, log, dir string, env ...string) *fluentBit {
	t.Helper()
	lf, err := os.OpenFile(log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(lf, "==== %s start\n", time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(bin, "-c", conf)
	cmd.Dir = dir
	// The example configuration finds its plugins file through $PWD.
	cmd.Env = append(append(os.Environ(), "PWD="+abs(t, dir)), env...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		lf.Close()
		t.Fatal(err)
	}
	fb := &fluentBit{t: t, cmd: cmd, log: log, done: make(chan struct{})}
	go func() {
		fb.err = cmd.Wait()
		lf.Close()
		close(fb.done)
	}()
	t.Cleanup(fb.kill)
	return fb
}

func (fb *fluentBit) exited() bool {
	select {
	case <-fb.done:
		return true
	default:
		return false
	}
}

// kill ends the whole process group with SIGKILL and waits for the exit.
func (fb *fluentBit) kill() {
	syscall.Kill(-fb.cmd.Process.Pid, syscall.SIGKILL)
	<-fb.done
}

func (fb *fluentBit) signal(sig syscall.Signal) {
	fb.t.Helper()
	if err := fb.cmd.Process.Signal(sig); err != nil {
		fb.t.Fatalf("%v: %v", sig, err)
	}
}

// stop sends SIGTERM and fails the test unless Fluent Bit exits cleanly
// within stopLimit.
func (fb *fluentBit) stop() time.Duration {
	fb.t.Helper()
	begin := time.Now()
	fb.signal(syscall.SIGTERM)
	select {
	case <-fb.done:
	case <-time.After(stopLimit):
		fb.kill()
		fb.t.Fatalf("no exit %s after SIGTERM\n%s", stopLimit, fb.tail())
	}
	took := time.Since(begin)
	if fb.err != nil {
		fb.t.Fatalf("exit after SIGTERM: %v\n%s", fb.err, fb.tail())
	}
	return took
}

// tail is the end of the log, for failure messages.
func (fb *fluentBit) tail() string {
	b, _ := os.ReadFile(fb.log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return "log " + fb.log + ":\n" + strings.Join(lines[max(0, len(lines)-40):], "\n")
}

// lines are the lines of the log that contain s.
func (fb *fluentBit) lines(s string) []string {
	b, _ := os.ReadFile(fb.log)
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}

// count is how many lines of the log contain s.
func (fb *fluentBit) count(s string) int {
	f, err := os.Open(fb.log)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			n++
		}
	}
	return n
}

// waitFor polls cond until it holds; it fails the test at the deadline or
// as soon as one of the processes exits.
func waitFor(t *testing.T, what string, limit time.Duration, procs []*fluentBit, cond func() bool, explain ...func() string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		for _, fb := range procs {
			if fb.exited() {
				t.Fatalf("waiting for %s: Fluent Bit exited: %v\n%s", what, fb.err, fb.tail())
			}
		}
		if time.Now().After(deadline) {
			msg := ""
			for _, e := range explain {
				msg += ": " + e()
			}
			for _, fb := range procs {
				msg += "\n" + fb.tail()
			}
			t.Fatalf("waiting for %s: not within %s%s", what, limit, msg)
		}
		time.Sleep(poll)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
