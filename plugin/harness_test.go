package main

import (
	"bufio"
	"cmp"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/newterms/newterms/internal/flb/flbtest"
	"github.com/newterms/newterms/internal/forward/forwardtest"
	"github.com/newterms/newterms/internal/synth"
	"github.com/newterms/newterms/internal/synth/synthtest"
)

// The harness tests run the real .so, built by the Makefile, inside the C
// harness that loads it as Fluent Bit does.
var (
	soPath      = "../build/out_newterms.so"
	harnessPath = "../build/harness"
)

func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Short() {
		cmd := exec.Command("make", "-C", "..", "build/out_newterms.so", "build/harness")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "make: %v\n%s", err, out)
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

const (
	roleRule    = "../conf/rules/initial_access_sts_web_identity_new_role_asn.toml"
	subjectRule = "../conf/rules/initial_access_sts_web_identity_new_subject_asn.toml"
)

var start = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// setup writes a generated stream as chunks of per records (v2, CloudTrail
// JSON in "log"), and an instance's properties.
type setup struct {
	dir, state, sock, props string
	chunks                  []string
	events                  []synth.Event
}

func newSetup(t *testing.T, seed uint64, n, per int, extra ...string) *setup {
	t.Helper()
	dir := t.TempDir()
	s := &setup{dir: dir, state: filepath.Join(dir, "state"), sock: filepath.Join(dir, "fwd.sock"), props: filepath.Join(dir, "instance.props")}
	s.events = synth.Stream(synth.Options{Seed: seed, Start: start, Days: 24, Events: n})
	for i := 0; i < len(s.events); i += per {
		var chunk []byte
		for _, ev := range s.events[i:min(i+per, len(s.events))] {
			chunk = flbtest.AppendRecord(chunk, true, ev.Time, [2]string{"log", string(ev.JSON)}, [2]string{"stream", "stdout"})
		}
		p := filepath.Join(dir, fmt.Sprintf("chunk-%04d.msgpack", len(s.chunks)))
		os.WriteFile(p, chunk, 0o644)
		s.chunks = append(s.chunks, p)
	}
	props := []string{
		"rules " + roleRule + "," + subjectRule,
		"asn_database ../testdata/asn/GeoLite2-ASN-Test.mmdb",
		"asn_reload_interval off",
		"state_dir " + s.state,
		"forward_address unix://" + s.sock,
		"record_key log",
		"log_level info",
	}
	// Extra keys come first: the harness, like Fluent Bit, answers with the
	// first occurrence of a key.
	os.WriteFile(s.props, []byte(strings.Join(append(extra, props...), "\n")+"\n"), 0o644)
	return s
}

// expected is the oracle's alert ids for the stream.
func (s *setup) expected(t *testing.T) []string {
	t.Helper()
	_, ids := synthtest.Expected(t, roleRule, subjectRule, s.events)
	slices.Sort(ids)
	return ids
}

// harness runs the harness to the end and returns its stdout lines.
func harness(t *testing.T, args ...string) ([]string, error) {
	t.Helper()
	cmd := exec.Command(harnessPath, append([]string{"-so", soPath}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Logf("harness stderr:\n%s", stderr.String())
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n"), err
}

// received returns the distinct alert ids a receiver got.
func received(r *forwardtest.Receiver) []string {
	seen := map[string]bool{}
	for _, rec := range r.Records() {
		nt, _ := rec.Record["newterms"].(map[string]any)
		seen[fmt.Sprint(nt["alert_id"])] = true
	}
	var ids []string
	for id := range seen {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func newHarnessCmd(args ...string) *exec.Cmd {
	return exec.Command(harnessPath, append([]string{"-so", soPath}, args...)...)
}

func listenB(sock string) (*forwardtest.Receiver, error) {
	return forwardtest.Listen("unix", sock, forwardtest.Options{})
}

func listen(t *testing.T, sock string) *forwardtest.Receiver {
	r, err := forwardtest.Listen("unix", sock, forwardtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func flushCodes(lines []string) map[string]int {
	codes := map[string]int{}
	for _, l := range lines {
		var path string
		var inst, rc int
		if n, _ := fmt.Sscanf(l, "flush %s %d rc %d", &path, &inst, &rc); n == 3 {
			codes[filepath.Base(path)] = rc
		}
	}
	return codes
}

// A generated stream through the real plugin: the alerts that reach the
// Forward receiver are exactly the oracle's.
func TestHarnessOracle(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the plugin")
	}
	s := newSetup(t, 1, 3000, 250)
	r := listen(t, s.sock)
	lines, err := harness(t, append([]string{"-props", s.props, "-threads", "1"}, s.chunks...)...)
	if err != nil {
		t.Fatal(err)
	}
	for chunk, rc := range flushCodes(lines) {
		if rc != 1 {
			t.Errorf("%s: rc %d", chunk, rc)
		}
	}
	want := s.expected(t)
	if got := received(r); !slices.Equal(got, want) || len(want) == 0 {
		t.Fatalf("received %d alerts, the oracle expects %d", len(got), len(want))
	}
	// Records carry the tag and the alert document.
	rec := r.Records()[0]
	if rec.Tag != "newterms.alert" || rec.Record["event"].(map[string]any)["kind"] != "alert" {
		t.Errorf("record %s %v", rec.Tag, rec.Record["event"])
	}
}

// The receiver is down for a whole run: alerts wait in the outbox on disk,
// and go out when the plugin next starts.
func TestHarnessReceiverDown(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the plugin")
	}
	s := newSetup(t, 2, 2000, 250)
	if _, err := harness(t, append([]string{"-props", s.props}, s.chunks...)...); err != nil {
		t.Fatal(err)
	}
	r := listen(t, s.sock)
	if _, err := harness(t, "-props", s.props); err != nil {
		t.Fatal(err)
	}
	if got, want := received(r), s.expected(t); !slices.Equal(got, want) {
		t.Fatalf("received %d alerts, the oracle expects %d", len(got), len(want))
	}
}

// SIGKILL in the middle of a stream, then a restart that resends the
// chunks not yet acknowledged (as Fluent Bit retries them): no alert lost,
// the state intact.
func TestHarnessKill(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the plugin")
	}
	s := newSetup(t, 3, 3000, 100)
	r := listen(t, s.sock)
	next := 0
	for kill := 0; next < len(s.chunks); kill++ {
		cmd := exec.Command(harnessPath, append([]string{"-so", soPath, "-props", s.props}, s.chunks[next:]...)...)
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		done := 0
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "flush ") {
				if !strings.HasSuffix(sc.Text(), "rc 1") {
					t.Fatalf("flush failed: %s", sc.Text())
				}
				done++
				if kill < 4 && done == 3+kill {
					cmd.Process.Signal(syscall.SIGKILL)
					break
				}
			}
		}
		cmd.Wait()
		next += done
		if kill > 10 {
			t.Fatal("no progress")
		}
	}
	// One more start delivers what the killed runs left in the outbox.
	if _, err := harness(t, "-props", s.props); err != nil {
		t.Fatal(err)
	}
	if got, want := received(r), s.expected(t); !slices.Equal(got, want) {
		t.Fatalf("received %d alerts, the oracle expects %d", len(got), len(want))
	}
}

// Garbage and bad records: the garbage chunk is an error (it can never
// succeed), bad records are skipped, the process lives on.
func TestHarnessBadInput(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the plugin")
	}
	s := newSetup(t, 4, 100, 100)
	garbage := filepath.Join(s.dir, "garbage.msgpack")
	os.WriteFile(garbage, []byte("\xc1\xc1 this is not msgpack"), 0o644)
	mixed := filepath.Join(s.dir, "mixed.msgpack")
	var chunk []byte
	chunk = flbtest.AppendRecord(chunk, true, start, [2]string{"log", "{not json"})
	chunk = flbtest.AppendRecord(chunk, false, start, [2]string{"other", "x"})
	chunk = append(chunk, 0x92, 0xa1, 'x', 0xa1, 'y') // an array that is no record
	good, _ := os.ReadFile(s.chunks[0])
	os.WriteFile(mixed, append(chunk, good...), 0o644)
	empty := filepath.Join(s.dir, "empty.msgpack")
	os.WriteFile(empty, nil, 0o644)
	listen(t, s.sock)
	lines, err := harness(t, "-props", s.props, garbage, mixed, empty, s.chunks[0])
	if err != nil {
		t.Fatal(err)
	}
	codes := flushCodes(lines)
	if codes["garbage.msgpack"] != 0 || codes["mixed.msgpack"] != 1 || codes["empty.msgpack"] != 1 || codes[filepath.Base(s.chunks[0])] != 1 {
		t.Errorf("return codes %v", codes)
	}
	if !strings.HasPrefix(lines[len(lines)-1], "exit 0 rc 1") {
		t.Errorf("the plugin did not live to exit: %v", lines)
	}
}

// Two instances, each with its own rules, state and tag; a third on the
// same state_dir as the first is refused at init.
func TestHarnessInstances(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the plugin")
	}
	a := newSetup(t, 5, 1500, 300, "alert_tag alerts.{severity}.{rule_id}")
	b := newSetup(t, 5, 1500, 300, "rules "+roleRule, "alert_tag other.alert")
	b.sock = a.sock
	os.WriteFile(b.props, []byte(strings.ReplaceAll(mustRead(t, b.props), "forward_address unix://"+filepath.Join(b.dir, "fwd.sock"), "forward_address unix://"+a.sock)), 0o644)
	r := listen(t, a.sock)
	lines, err := harness(t, append([]string{"-props", a.props, "-props", b.props, "-threads", "4"}, a.chunks...)...)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(strings.Join(lines, "\n"), " rc 1"); n != 2+2*len(a.chunks)+2 {
		t.Errorf("%d successful calls in %v", n, lines)
	}
	tags := map[string]int{}
	tuples := map[string]int{}
	for _, rec := range r.Records() {
		tags[strings.SplitN(rec.Tag, ".", 2)[0]]++
		// Flushes ran on 4 threads at once: still one alert per new tuple
		// and instance (both instances hold the role rule, each its state).
		nt := rec.Record["newterms"].(map[string]any)
		tuples[fmt.Sprint(strings.SplitN(rec.Tag, ".", 2)[0], nt["rule"].(map[string]any)["key"], nt["terms"])]++
	}
	for tu, n := range tuples {
		if n != 1 {
			t.Errorf("%d alerts for %s", n, tu)
		}
	}
	if tags["alerts"] == 0 || tags["other"] == 0 {
		t.Errorf("tags %v", tags)
	}
	dup := filepath.Join(a.dir, "dup.props")
	os.WriteFile(dup, []byte(mustRead(t, a.props)), 0o644)
	lines, err = harness(t, "-props", a.props, "-props", dup)
	if err == nil || !slices.Contains(lines, "init 1 rc 0") {
		t.Errorf("a second instance on one state_dir: %v %v", lines, err)
	}
}

func mustRead(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A bad configuration fails init, naming the key.
func TestHarnessBadConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the plugin")
	}
	cases := []struct{ extra, want string }{
		{"max_record_size lots", `max_record_size = "lots"`},
		{"learning maybe", "learning"},
		{"match *", "catches this instance's own alert tag"},
		{"rules /nonexistent", "/nonexistent"},
	}
	for _, c := range cases {
		s := newSetup(t, 6, 10, 10, c.extra)
		cmd := exec.Command(harnessPath, "-so", soPath, "-props", s.props)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "init 0 rc 0") || !strings.Contains(string(out), c.want) {
			t.Errorf("%s: %v\n%s", c.extra, err, out)
		}
	}
	// No forward_address at all.
	s := newSetup(t, 6, 10, 10)
	os.WriteFile(s.props, []byte(strings.ReplaceAll(mustRead(t, s.props), "forward_address", "#")), 0o644)
	out, err := exec.Command(harnessPath, "-so", soPath, "-props", s.props).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "forward_address is missing") {
		t.Errorf("no forward_address: %v\n%s", err, out)
	}
}

// Records in every envelope of the README's input table, each encoded as
// AWS delivers it (base64, gzip, both), give through the .so, with the
// default prefilter, exactly the oracle's alerts.
func TestHarnessEnvelopes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the plugin")
	}
	s := newSetup(t, 3, 3000, 250)
	for i := range s.chunks {
		var chunk []byte
		for j, ev := range s.events[i*250 : min((i+1)*250, len(s.events))] {
			env := synth.Envelopes[(i*250+j)%len(synth.Envelopes)]
			chunk = flbtest.AppendRecord(chunk, true, ev.Time, [2]string{"log", string(env.Wrap(ev.JSON))})
		}
		os.WriteFile(s.chunks[i], chunk, 0o644)
	}
	r := listen(t, s.sock)
	if _, err := harness(t, append([]string{"-props", s.props}, s.chunks...)...); err != nil {
		t.Fatal(err)
	}
	want := s.expected(t)
	if got := received(r); !slices.Equal(got, want) || len(want) == 0 {
		t.Fatalf("received %d alerts, the oracle expects %d", len(got), len(want))
	}
}

// A state whose manifest marker is gone is an init error naming a file
// found there: never a new, empty state that forgets every tuple.
func TestHarnessStateNotReset(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the plugin")
	}
	s := newSetup(t, 7, 500, 250)
	listen(t, s.sock)
	if _, err := harness(t, append([]string{"-props", s.props}, s.chunks...)...); err != nil {
		t.Fatal(err)
	}
	markers, _ := filepath.Glob(filepath.Join(s.state, "marker.manifest.*"))
	if len(markers) == 0 {
		t.Fatal("no manifest marker in the state")
	}
	for _, m := range markers {
		os.Remove(m)
	}
	out, err := exec.Command(harnessPath, "-so", soPath, "-props", s.props).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "init 0 rc 0") || !strings.Contains(string(out), "no store manifest") {
		t.Errorf("a state without its manifest marker: %v\n%s", err, out)
	}
}

// With max_lateness, flushes on four threads of chunks written out of
// order (each shuffled within blocks of four, as a backlog is) give
// exactly the oracle's alerts over the stream in event-time order, each
// once. A last chunk, two days on, moves both rules' newest event time
// past the window, so that every held event of the stream is decided.
func TestHarnessWorkerOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the plugin")
	}
	s := newSetup(t, 11, 4000, 25, "max_lateness 24h")
	rng := rand.New(rand.NewPCG(11, 5))
	chunks := slices.Clone(s.chunks)
	for i := 0; i < len(chunks); i += 4 {
		block := chunks[i:min(i+4, len(chunks))]
		rng.Shuffle(len(block), func(a, b int) { block[a], block[b] = block[b], block[a] })
	}
	// The push: the last event the role and subject rules match, two days
	// later, under a new id.
	var last synth.Event
	for _, ev := range s.events {
		if ev.Action == "AssumeRoleWithWebIdentity" && ev.Success && ev.ASN != 0 {
			last = ev
		}
	}
	at := last.Time.Add(48 * time.Hour)
	doc := strings.Replace(string(last.JSON), last.Time.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339), 1)
	doc = strings.Replace(doc, last.ID, "ffffffff-0000-4000-8000-000000000000", 1)
	push := filepath.Join(s.dir, "push.msgpack")
	os.WriteFile(push, flbtest.AppendRecord(nil, true, at, [2]string{"log", doc}), 0o644)

	r := listen(t, s.sock)
	lines, err := harness(t, append(append([]string{"-props", s.props, "-threads", "4"}, chunks...), push)...)
	if err != nil {
		t.Fatal(err)
	}
	for chunk, rc := range flushCodes(lines) {
		if rc != 1 {
			t.Errorf("%s: rc %d", chunk, rc)
		}
	}
	// The oracle in event-time order: the engine reads eventTime to the
	// second, and orders events of one second by id.
	s.events = slices.Clone(s.events)
	for i := range s.events {
		s.events[i].Time = s.events[i].Time.Truncate(time.Second)
	}
	slices.SortStableFunc(s.events, func(a, b synth.Event) int {
		return cmp.Or(a.Time.Compare(b.Time), strings.Compare(a.ID, b.ID))
	})
	want := s.expected(t)
	got := received(r)
	if !slices.Equal(got, want) || len(want) == 0 {
		t.Fatalf("received %d alerts, the event-time oracle expects %d", len(got), len(want))
	}
	// At least once: an alert in flight at exit may come again, under the
	// same id.
	t.Logf("%d records for %d alerts", len(r.Records()), len(got))
}
