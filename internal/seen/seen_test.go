package seen

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
