package forward

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/newterms/newterms/internal/forward/forwardtest"
	"github.com/newterms/newterms/internal/logx"
	"github.com/newterms/newterms/internal/seen"
)

// tombStore is a seen.Store that keeps what it deletes as tombstones, as
// an LSM tree does until compaction, and counts the tombstones each scan
// of the outbox steps over: a scan seeks to its start without visiting
// the keys below it, and steps over every tombstone after.
type tombStore struct {
	mu    sync.Mutex
	m     map[string][]byte // nil: a tombstone
	steps []int             // per outbox scan, tombstones stepped over
}

func (s *tombStore) Get(k []byte) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.m[string(k)]
	return bytes.Clone(v), v != nil, nil
}

func (s *tombStore) Apply(w *seen.Writes) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	w.Each(func(k, v []byte, del bool) {
		if del {
			s.m[string(k)] = nil
		} else {
			s.m[string(k)] = append([]byte{}, v...)
		}
	})
	return nil
}

func (s *tombStore) Scan(prefix []byte, fn func(k, v []byte) bool) error {
	return s.ScanFrom(prefix, prefix, fn)
}

func (s *tombStore) ScanFrom(prefix, start []byte, fn func(k, v []byte) bool) error {
	s.mu.Lock()
	var keys []string
	for k := range s.m {
		if strings.HasPrefix(k, string(prefix)) && k >= string(start) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	s.mu.Unlock()
	tombs := 0
	for _, k := range keys {
		s.mu.Lock()
		v := s.m[k]
		s.mu.Unlock()
		if v == nil {
			tombs++
			continue
		}
		if !fn([]byte(k), v) {
			break
		}
	}
	if string(prefix) == "o" {
		s.mu.Lock()
		s.steps = append(s.steps, tombs)
		s.mu.Unlock()
	}
	return nil
}

func (s *tombStore) Close() error { return nil }

func TestDrainSeeksPastDelivered(t *testing.T) {
	const n, batch = 2000, 100
	store := &tombStore{m: map[string][]byte{}}
	s, err := seen.Open(seen.Options{Store: store, CompactInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b := s.Begin(false)
	for i := range n {
		b.AddAlert(fmt.Appendf(nil, `{"n":%d}`, i))
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	path := sock(t)
	r, err := forwardtest.Listen("unix", path, forwardtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	snd, _ := New(s, fast(Options{Address: "unix://" + path, MaxBatch: batch}))
	store.steps = nil
	if got, err := snd.Drain(context.Background()); got != n || err != nil {
		t.Fatalf("drained %d of %d: %v", got, n, err)
	}
	if len(r.Records()) != n {
		t.Fatalf("received %d of %d", len(r.Records()), n)
	}
	for i, rec := range r.Records() {
		if rec.Record["n"] != int64(i) {
			t.Fatalf("record %d is alert %v: out of order", i, rec.Record["n"])
		}
	}
	// Each read seeks past what was delivered before: the work of a read
	// does not grow with the alerts delivered.
	if m := slices.Max(store.steps); m > batch {
		t.Errorf("an outbox read stepped over %d deleted alerts (reads: %d)", m, len(store.steps))
	}
}

// Delivering gives the outbox's disk space back: the tables of a state
// whose outbox was delivered hold next to nothing. (Its write-ahead log
// files, recycled, stay: a few memtables' worth whatever the outbox held.)
func TestReclaim(t *testing.T) {
	const n = 8000 // about 19 MB of alerts
	dir := fill(t, n)
	_, before := diskSize(t, dir)
	s, closeState := openState(t, dir)
	path := sock(t)
	r, err := forwardtest.Listen("unix", path, forwardtest.Options{Discard: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	snd, _ := New(s, fast(Options{Address: "unix://" + path}))
	if got, err := snd.Drain(context.Background()); got != n || err != nil {
		t.Fatalf("drained %d of %d: %v", got, n, err)
	}
	closeState()
	_, after := diskSize(t, dir)
	t.Logf("state tables: %d bytes before delivery, %d after", before, after)
	if after > before/10 {
		t.Errorf("state tables: %d bytes before delivery, %d after", before, after)
	}
}

// A panic in an attempt is logged once, and delivery goes on.
func TestRunSurvivesPanic(t *testing.T) {
	cases := []struct {
		name   string
		panics int
	}{
		{"one panic", 1},
		{"panics in a row", 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := sock(t)
			r, err := forwardtest.Listen("unix", path, forwardtest.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			s := state(t, 10)
			var logs logLines
			snd, _ := New(s, fast(Options{Address: "unix://" + path, Log: func(_ logx.Level, f string, a ...any) { logs.add(f, a...) }}))
			attempts := 0
			snd.testHook = func(event string) {
				if event != "attempt" {
					return
				}
				if attempts++; attempts <= c.panics {
					panic(fmt.Sprintf("injected %d", attempts))
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); snd.Run(ctx) }()
			// Recovery is logged once the first batch after the panics is
			// acked.
			ok := logs.waitFor("recovered after", 10*time.Second) && r.WaitFor(10, 10*time.Second)
			cancel()
			<-done
			if !ok {
				t.Fatalf("received %d of 10 after %d panics:\n%s", len(r.Records()), c.panics, logs.String())
			}
			if got := logs.count("panic: injected"); got != 1 {
				t.Errorf("%d log lines of the panic, want 1:\n%s", got, logs.String())
			}
			if got := logs.count("recovered after"); got != 1 {
				t.Errorf("%d lines of the recovery, want 1:\n%s", got, logs.String())
			}
		})
	}
}

// logLines collects log lines.
type logLines struct {
	mu    sync.Mutex
	lines []string
	added chan struct{}
}

func (l *logLines) add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	if l.added == nil {
		l.added = make(chan struct{}, 1)
	}
	select {
	case l.added <- struct{}{}:
	default:
	}
}

// waitFor blocks until a line holds sub or the timeout passed, and
// reports whether one does.
func (l *logLines) waitFor(sub string, timeout time.Duration) bool {
	l.mu.Lock()
	if l.added == nil {
		l.added = make(chan struct{}, 1)
	}
	added := l.added
	l.mu.Unlock()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for l.count(sub) == 0 {
		select {
		case <-added:
		case <-deadline.C:
			return l.count(sub) > 0
		}
	}
	return true
}

func (l *logLines) count(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		if strings.Contains(s, sub) {
			n++
		}
	}
	return n
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// An outage is logged when it starts, with its cause, and when it ends,
// with how many alerts waited: not at each retry.
func TestOutageLoggedOnce(t *testing.T) {
	path := sock(t)
	s := state(t, 7)
	var failures, recoveries logLines
	snd, _ := New(s, fast(Options{Address: "unix://" + path, Log: func(l logx.Level, f string, a ...any) {
		if l == logx.Error {
			failures.add(f, a...)
		} else {
			recoveries.add(f, a...)
		}
	}}))
	const retries = 5
	attempts := 0
	retried := make(chan struct{})
	snd.testHook = func(event string) {
		if event != "attempt" {
			return
		}
		if attempts++; attempts == retries {
			close(retried)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); snd.Run(ctx) }()
	<-retried
	r, err := forwardtest.Listen("unix", path, forwardtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ok := recoveries.waitFor("recovered", 10*time.Second)
	cancel()
	<-done
	if !ok || len(r.Records()) != 7 {
		t.Fatalf("received %d of 7; recoveries logged:\n%s", len(r.Records()), recoveries.String())
	}
	if len(failures.lines) != 1 || !strings.Contains(failures.lines[0], "no such file") {
		t.Errorf("failures logged:\n%s", failures.String())
	}
	if len(recoveries.lines) != 1 || !strings.Contains(recoveries.lines[0], "7 alerts had waited") {
		t.Errorf("recoveries logged:\n%s", recoveries.String())
	}
}

// Exit is bounded whatever the receiver does: Flush(d) returns within d
// and a margin, and cancelling Run interrupts a pending write or ack wait.
// The sender keeps its default 30 s ack timeout: the bound must not come
// from it.
func TestExitBounded(t *testing.T) {
	cases := []struct {
		name  string
		recv  *forwardtest.Options // nil: down
		key   string
		big   bool   // documents that fill the socket's buffers
		stuck string // the sender's event after which it waits on the receiver
	}{
		{"down", nil, "", false, "attempt"},
		{"never acks", &forwardtest.Options{NoAck: true}, "", false, "write"},
		{"never reads", &forwardtest.Options{Stall: true}, "", true, "write"},
		{"handshake hangs", &forwardtest.Options{Stall: true, SharedKey: "k"}, "k", false, "handshake"},
	}
	const bound = 2 * time.Second // a bound on a hang, not a speed
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := sock(t)
			var r *forwardtest.Receiver
			if c.recv != nil {
				var err error
				if r, err = forwardtest.Listen("unix", path, *c.recv); err != nil {
					t.Fatal(err)
				}
				defer r.Close()
			}
			s := state(t, 0)
			const n = 300
			b := s.Begin(false)
			for i := range n {
				doc := fmt.Sprintf(`{"n":%d}`, i)
				if c.big {
					doc = fmt.Sprintf(`{"n":%d,"pad":"%s"}`, i, strings.Repeat("x", 10000))
				}
				b.AddAlert([]byte(doc))
			}
			if err := b.Commit(); err != nil {
				t.Fatal(err)
			}
			snd, _ := New(s, Options{Address: "unix://" + path, SharedKey: c.key})

			t.Run("flush", func(t *testing.T) {
				start := time.Now()
				got, err := snd.Flush(200 * time.Millisecond)
				if el := time.Since(start); el > bound {
					t.Errorf("Flush(200ms) took %s", el)
				}
				if got != 0 || err == nil {
					t.Errorf("flush: %d delivered, error %v", got, err)
				}
			})
			t.Run("run", func(t *testing.T) {
				stuck := make(chan struct{}, 1)
				snd.testHook = func(event string) {
					if event == c.stuck {
						select {
						case stuck <- struct{}{}:
						default:
						}
					}
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() { defer close(done); snd.Run(ctx) }()
				// Cancel once the sender is about to wait on the receiver.
				<-stuck
				start := time.Now()
				cancel()
				select {
				case <-done:
				case <-time.After(10 * time.Second):
					t.Fatal("Run still running 10s after its context was cancelled")
				}
				if el := time.Since(start); el > bound {
					t.Errorf("Run returned %s after cancel", el)
				}
			})
			if got, _ := s.OutboxSize(); got != n {
				t.Errorf("outbox holds %d, want %d", got, n)
			}
		})
	}
}

// A batch of one-alert messages (tags alternate) of 2.4 KB each: acks are
// read while the batch is written, or the receiver, blocked writing acks
// no one reads, stops reading, and the write never ends.
func TestManyMessagesInFlight(t *testing.T) {
	const n = 3000
	s, _ := openState(t, fill(t, n))
	path := sock(t)
	r, err := forwardtest.Listen("unix", path, forwardtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	snd, _ := New(s, Options{Address: "unix://" + path, Tag: "alerts.{rule_id}", AckTimeout: 5 * time.Second})
	if got, err := snd.Drain(context.Background()); got != n || err != nil {
		t.Fatalf("delivered %d of %d: %v", got, n, err)
	}
	for i, rec := range r.Records() {
		if want := fmt.Sprintf("alerts.r%d", i%3); rec.Tag != want || rec.Record["message"] != fmt.Sprintf("user-%d did AssumeRole from AS64500 (Example Net), new for them in 14 days", i) {
			t.Fatalf("record %d: %s %v, want %s", i, rec.Tag, rec.Record["message"], want)
		}
	}
}
