package seen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func openT(t testing.TB, dir string, mod func(*Options)) *State {
	t.Helper()
	o := Options{Dir: dir, CompactInterval: -1}
	if mod != nil {
		mod(&o)
	}
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var tenDays = Rule{Key: "r1:abc", Name: "rule one", Window: 10 * 24 * time.Hour}

// check runs one batch of one tuple.
func check(t testing.TB, s *State, r Rule, tuple []string, at time.Time, learnOnly bool) Decision {
	t.Helper()
	b := s.Begin(learnOnly)
	d, err := b.Check(r, tuple, at, "ev-"+at.Format(time.RFC3339))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestSemantics(t *testing.T) {
	day := 24 * time.Hour
	type step struct {
		at        time.Duration // after t0
		tuple     string
		learnOnly bool
		want      Decision
	}
	cases := []struct {
		name       string
		noLearning bool
		steps      []step
	}{
		{"learning: alerts only once a window is covered", false, []step{
			{0, "a", false, Learning},
			{day, "b", false, Learning},
			{10*day - time.Second, "c", false, Learning},
			{10 * day, "d", false, Novel}, // exactly one window after the first event
			{10 * day, "a", false, Known},
		}},
		{"window edges", true, []step{
			{0, "a", false, Novel},
			{10 * day, "a", false, Known},                                // exactly one window after last_seen
			{20*day + time.Second, "a", false, Novel},                    // one second more than a window
			{30*day + time.Second - time.Second, "a", false, Known},      // one second less
			{40*day + time.Second + time.Millisecond, "a", false, Novel}, // 10d + 1ms after the stored last_seen
		}},
		{"known tuples refresh last_seen", true, []step{
			{0, "a", false, Novel},
			{9 * day, "a", false, Known},
			{18 * day, "a", false, Known}, // within a window of the refreshed last_seen
			{28*day + time.Second, "a", false, Novel},
		}},
		{"out of order", true, []step{
			{5 * day, "a", false, Novel},
			{1 * day, "a", false, Known},   // older, within the window: not novel, moves first_seen back
			{-20 * day, "a", false, Known}, // far older: never novel
			{15 * day, "a", false, Known},
			{4 * day, "b", false, Novel}, // a new tuple is new whatever its time
		}},
		{"backfill then live", false, []step{
			{0, "a", true, Backfilled},
			{9 * day, "b", true, Backfilled},
			{10 * day, "a", false, Known},
			{11 * day, "c", false, Novel}, // the backfill covered the window
			{11 * day, "b", false, Known},
		}},
		{"learning off", true, []step{
			{0, "a", false, Novel},
			{time.Minute, "b", false, Novel},
			{time.Minute, "a", false, Known},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := openT(t, t.TempDir(), func(o *Options) { o.NoLearning = c.noLearning })
			defer s.Close()
			for i, st := range c.steps {
				if got := check(t, s, tenDays, []string{st.tuple}, t0.Add(st.at), st.learnOnly); got != st.want {
					t.Fatalf("step %d (%s at %v): %v, want %v", i, st.tuple, st.at, got, st.want)
				}
			}
		})
	}
}

func TestRuleEditStartsAfresh(t *testing.T) {
	s := openT(t, t.TempDir(), func(o *Options) { o.NoLearning = true })
	defer s.Close()
	edited := tenDays
	edited.Key = "r1:def" // same rule_id, another query hash
	if d := check(t, s, tenDays, []string{"a"}, t0, false); d != Novel {
		t.Fatal(d)
	}
	if d := check(t, s, edited, []string{"a"}, t0, false); d != Novel {
		t.Fatalf("edited rule: %v, want novel (a new state)", d)
	}
	if d := check(t, s, tenDays, []string{"a"}, t0.Add(time.Hour), false); d != Known {
		t.Fatal(d)
	}
}

func TestTupleIdentity(t *testing.T) {
	s := openT(t, t.TempDir(), func(o *Options) { o.NoLearning = true })
	defer s.Close()
	// Length prefixes keep ("ab","c") and ("a","bc") apart.
	for _, tu := range [][]string{{"ab", "c"}, {"a", "bc"}, {"abc"}, {"", "abc"}, {"abc", ""}} {
		if d := check(t, s, tenDays, tu, t0, false); d != Novel {
			t.Errorf("%q: %v, want novel", tu, d)
		}
	}
}

func TestBatchSeesItself(t *testing.T) {
	s := openT(t, t.TempDir(), func(o *Options) { o.NoLearning = true })
	defer s.Close()
	b := s.Begin(false)
	var got []Decision
	for _, tu := range []string{"a", "a", "b", "a"} {
		d, err := b.Check(tenDays, []string{tu}, t0, "e")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, d)
	}
	if fmt.Sprint(got) != "[novel known novel known]" {
		t.Errorf("decisions %v", got)
	}
	b.Abort()
	// Nothing of an aborted batch stays.
	if d := check(t, s, tenDays, []string{"a"}, t0, false); d != Novel {
		t.Errorf("after abort: %v", d)
	}
}

func TestOutbox(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, nil)
	b := s.Begin(false)
	for i := range 5 {
		b.AddAlert([]byte(fmt.Sprintf(`{"n":%d}`, i)))
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	b = s.Begin(false)
	b.AddAlert([]byte(`{"n":"aborted"}`))
	b.Abort()
	all, err := s.Outbox(0, 0)
	if err != nil || len(all) != 5 || string(all[0].Doc) != `{"n":0}` || all[4].Seq != all[0].Seq+4 {
		t.Fatalf("outbox %v %v", all, err)
	}
	page, _ := s.Outbox(all[1].Seq, 2)
	if len(page) != 2 || page[0].Seq != all[2].Seq {
		t.Errorf("page after %d: %v", all[1].Seq, page)
	}
	if err := s.Delete(all[:3]); err != nil {
		t.Fatal(err)
	}
	if n, bytes := s.OutboxSize(); n != 2 || bytes != int64(len(`{"n":3}`)*2) {
		t.Errorf("size %d %d", n, bytes)
	}
	s.Close()
	s = openT(t, dir, nil)
	defer s.Close()
	left, _ := s.Outbox(0, 0)
	if len(left) != 2 || string(left[0].Doc) != `{"n":3}` {
		t.Errorf("after reopen: %v", left)
	}
	b = s.Begin(false)
	b.AddAlert([]byte("next"))
	b.Commit()
	if all, _ := s.Outbox(0, 0); all[len(all)-1].Seq <= left[1].Seq {
		t.Error("sequence numbers went back after reopen")
	}
}

func TestCommitNothing(t *testing.T) {
	s := openT(t, t.TempDir(), func(o *Options) { o.NoLearning = true })
	defer s.Close()
	check(t, s, tenDays, []string{"a"}, t0, false)
	b := s.Begin(false)
	b.Check(tenDays, []string{"a"}, t0.Add(time.Second), "e") // below the granularity
	if !b.Empty() {
		t.Error("a refresh below the granularity writes")
	}
	b.Commit()
	if err := b.Commit(); err != ErrDone {
		t.Errorf("second commit: %v", err)
	}
}

func TestFormat(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, nil)
	if _, err := Open(Options{Dir: dir, CompactInterval: -1}); err == nil || !strings.Contains(err.Error(), "already open") {
		t.Errorf("second open: %v", err)
	}
	var w Writes
	w.Set(formatKey, []byte("99"))
	s.store.Apply(&w)
	s.Close()
	if _, err := Open(Options{Dir: dir, CompactInterval: -1}); err == nil || !strings.Contains(err.Error(), "newer than this build") {
		t.Errorf("newer format: %v", err)
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v", st.Mode().Perm())
	}

	// Data without a marker.
	dir2 := t.TempDir()
	p, err := openPebble(dir2, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	w = Writes{}
	w.Set([]byte("tsomething"), []byte("x"))
	p.Apply(&w)
	p.Close()
	if _, err := Open(Options{Dir: dir2, CompactInterval: -1}); err == nil || !strings.Contains(err.Error(), "without a newterms format marker") {
		t.Errorf("no marker: %v", err)
	}

	// A damaged store.
	dir3 := filepath.Join(t.TempDir(), "state")
	s = openT(t, dir3, nil)
	s.Close()
	files, _ := filepath.Glob(filepath.Join(dir3, "MANIFEST-*"))
	for _, f := range files {
		os.WriteFile(f, []byte("garbage garbage garbage"), 0o600)
	}
	if _, err := Open(Options{Dir: dir3, CompactInterval: -1}); err == nil || !strings.Contains(err.Error(), "cannot open") {
		t.Errorf("damaged: %v", err)
	}
}

func TestCompact(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, func(o *Options) { o.NoLearning = true })
	defer s.Close()
	day := 24 * time.Hour
	check(t, s, tenDays, []string{"old"}, t0, false)
	check(t, s, tenDays, []string{"recent"}, t0.Add(15*day), false)
	check(t, s, tenDays, []string{"now"}, t0.Add(20*day), false)
	n, err := s.Compact()
	if err != nil || n != 1 {
		t.Fatalf("removed %d, %v", n, err)
	}
	var left []string
	s.List("rule one", func(tu Tuple) bool { left = append(left, tu.Values[0]); return true })
	if len(left) != 2 || strings.Contains(strings.Join(left, ","), "old") {
		t.Errorf("left %v", left)
	}
	if d := check(t, s, tenDays, []string{"old"}, t0.Add(21*day), false); d != Novel {
		t.Errorf("expired tuple: %v", d)
	}
	st, err := s.Stats()
	if err != nil || len(st) != 1 || st[0].Tuples != 3 || !st[0].Covered || st[0].Name != "rule one" {
		t.Errorf("stats %+v %v", st, err)
	}
}

func TestList(t *testing.T) {
	s := openT(t, t.TempDir(), func(o *Options) { o.NoLearning = true })
	defer s.Close()
	long := strings.Repeat("x", 1000)
	check(t, s, tenDays, []string{"arn:aws:iam::1:role/a", long}, t0, false)
	var got []Tuple
	if err := s.List("r1:abc", func(tu Tuple) bool { got = append(got, tu); return true }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Values[0] != "arn:aws:iam::1:role/a" || len(got[0].Values[1]) != maxStoredValue ||
		!got[0].FirstSeen.Equal(t0) || got[0].FirstEventID != "ev-"+t0.Format(time.RFC3339) {
		t.Errorf("%+v", got)
	}
	if err := s.List("nope", func(Tuple) bool { return true }); err == nil {
		t.Error("listing an unknown rule")
	}
}

// Several batches at once, sharing new tuples: each tuple is novel once.
func TestConcurrentBatches(t *testing.T) {
	s := openT(t, t.TempDir(), func(o *Options) { o.NoLearning = true })
	defer s.Close()
	const workers, batches, tuples = 4, 20, 50
	var mu sync.Mutex
	novel := map[string]int{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for range batches {
				b := s.Begin(false)
				var mine []string
				for range 10 {
					tu := fmt.Sprintf("t%d", rng.IntN(tuples))
					d, err := b.Check(tenDays, []string{tu}, t0.Add(time.Duration(rng.IntN(3600))*time.Second), "e")
					if err != nil {
						t.Error(err)
					}
					if d == Novel {
						mine = append(mine, tu)
					}
				}
				if err := b.Commit(); err != nil {
					t.Error(err)
				}
				mu.Lock()
				for _, tu := range mine {
					novel[tu]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for tu, n := range novel {
		if n != 1 {
			t.Errorf("%s novel %d times", tu, n)
		}
	}
	if len(novel) == 0 {
		t.Error("nothing novel")
	}
}

// The program's ReleaseCMemory runs every 32 commits that write, and after
// each compaction (here, of the delivered outbox).
func TestReleaseCMemory(t *testing.T) {
	var calls atomic.Int64
	s := openT(t, t.TempDir(), func(o *Options) { o.ReleaseCMemory = func() { calls.Add(1) } })
	defer s.Close()
	commit := func(doc string) {
		t.Helper()
		b := s.Begin(false)
		b.AddAlert([]byte(doc))
		if err := b.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 31 {
		commit(fmt.Sprint(i))
	}
	if n := calls.Load(); n != 0 {
		t.Fatalf("%d calls after 31 commits, want 0", n)
	}
	commit("31")
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d calls after 32 commits, want 1", n)
	}
	all, err := s.Outbox(0, 0)
	if err != nil || len(all) != 32 {
		t.Fatalf("outbox: %d alerts, %v", len(all), err)
	}
	if err := s.store.(*pebbleStore).db.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.Delivered(all); err != nil {
		t.Fatal(err)
	}
	if err := s.ReclaimOutbox(context.Background(), all[len(all)-1].Seq); err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n < 2 {
		t.Errorf("%d calls after a compaction, want at least 2", n)
	}
}
