package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/newterms/newterms/internal/testsupport"
)

// envStreamGiB sets the size of TestStreamMemory's stream (default 2).
const envStreamGiB = "NEWTERMS_STREAM_GIB"

// Gigabytes of CloudTrail on stdin, through the built binary (not under
// -race): replay (a backfill, with Elastic's pack when the shared files
// are there, else conf/rules) and normalize (a quarter of the size) read
// it as a stream, so that
// the peak RSS stays under cache_size + 192 MiB whatever its size. The
// stream repeats 20,000 generated records, each time with new event ids
// and times a day later, so that the state keeps growing.
func TestStreamMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("streams gigabytes")
	}
	gib := 2.0
	if v := os.Getenv(envStreamGiB); v != "" {
		var err error
		if gib, err = strconv.ParseFloat(v, 64); err != nil {
			t.Fatalf("%s: %v", envStreamGiB, err)
		}
	}
	bin := filepath.Join(t.TempDir(), "newterms")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	rulesDir := "../../conf/rules"
	if p := testsupport.SharedIfPresent("fixtures/elastic-rules"); p != "" {
		rulesDir = p
	}
	const cacheSize = 64 << 20 // the default cache_size
	size := int64(gib * (1 << 30))
	for _, c := range []struct {
		name string
		args []string
		size int64
	}{
		{"replay", []string{"replay", "--rules", rulesDir, "--learn-only", "--state", filepath.Join(t.TempDir(), "state"), "--summary", "json"}, size},
		// A quarter: it holds no state, and costs more a record.
		{"normalize", []string{"normalize"}, size / 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(bin, c.args...)
			cmd.Env = append(os.Environ(), "GOMEMLIMIT=") // the program's own limit
			// The peak is the child's VmHWM, read as its stdin ends: all
			// but the last megabyte or so has gone through it then, and a
			// high-water mark only rises. (rusage's Maxrss will not do: the
			// child is forked sharing this process's memory, whose RSS it
			// inherits until exec.)
			var peak int64
			var hwmErr error
			in := newRepeater(bytes.Split(bytes.TrimSpace(synthStream(20_000)), []byte("\n")), c.size)
			in.atEnd = func() { peak, hwmErr = vmHWM(cmd.Process.Pid) }
			cmd.Stdin = in
			var stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = io.Discard, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("%v: %s", err, stderr.String())
			}
			if hwmErr != nil {
				t.Fatal(hwmErr)
			}
			t.Logf("%.2f GiB: peak RSS %d MiB", float64(c.size)/(1<<30), peak>>20)
			if limit := int64(cacheSize + 192<<20); peak > limit {
				t.Errorf("peak RSS %d MiB over %d MiB", peak>>20, limit>>20)
			}
			if c.name == "replay" && !strings.Contains(stderr.String(), `"event_time_first"`) {
				t.Errorf("summary: %s", stderr.String())
			}
		})
	}
}

// repeater is NDJSON of recs over and over, whole rounds of it until left
// bytes are out; each round shifts the event ids and the times (a day
// later), so that each round is new to the state. A round is patched in
// place at offsets found once: under -race, rebuilding each round record
// by record made the test take minutes.
type repeater struct {
	round     []byte
	ids, days []int // where each record's event id and eventTime's month-day are
	n         int   // rounds made
	left      int64
	buf       []byte
	atEnd     func() // called once, when the stream ends
}

func newRepeater(recs [][]byte, size int64) *repeater {
	r := &repeater{left: size}
	for _, rec := range recs {
		// "eventID":"0000000f-..." -> the round in place of the seed; the
		// day of "eventTime":"2026-05-DD..." moves on.
		if i := bytes.Index(rec, []byte(`"eventID":"`)); i >= 0 {
			r.ids = append(r.ids, len(r.round)+i+len(`"eventID":"`))
		}
		if j := bytes.Index(rec, []byte(`"eventTime":"2026-`)); j >= 0 {
			r.days = append(r.days, len(r.round)+j+len(`"eventTime":"2026-`))
		}
		r.round = append(append(r.round, rec...), '\n')
	}
	return r
}

func (r *repeater) Read(p []byte) (int, error) {
	if len(r.buf) == 0 {
		if r.left <= 0 { // whole rounds only: no record cut short
			if r.atEnd != nil {
				r.atEnd()
				r.atEnd = nil
			}
			return 0, io.EOF
		}
		r.fill()
	}
	n := copy(p, r.buf)
	r.buf, r.left = r.buf[n:], r.left-int64(n)
	return n, nil
}

// fill patches the round for the next one: it is read only when the one
// before has been read whole.
func (r *repeater) fill() {
	r.n++
	tag := fmt.Appendf(nil, "%08x", r.n)
	day := fmt.Appendf(nil, "%02d-%02d", 1+(r.n/28)%12, 1+r.n%28)
	for _, i := range r.ids {
		copy(r.round[i:], tag)
	}
	for _, i := range r.days {
		copy(r.round[i:], day)
	}
	r.buf = r.round
}

// vmHWM is a process's peak RSS, in bytes.
func vmHWM(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}
