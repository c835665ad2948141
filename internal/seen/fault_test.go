package seen

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/newterms/newterms/internal/logx"
)

// fullFS is the OS file system whose writes fail with ENOSPC while full
// is set: a disk that fills up under the state.
type fullFS struct {
	vfs.FS
	full *atomic.Bool
}

type fullFile struct {
	vfs.File
	full *atomic.Bool
}

func (fs fullFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	if fs.full.Load() {
		return nil, syscall.ENOSPC
	}
	f, err := fs.FS.Create(name, c)
	if err != nil {
		return nil, err
	}
	return fullFile{f, fs.full}, nil
}

func (fs fullFS) ReuseForWrite(old, name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(old, name, c)
	if err != nil {
		return nil, err
	}
	return fullFile{f, fs.full}, nil
}

func (f fullFile) Write(p []byte) (int, error) {
	if f.full.Load() {
		return 0, syscall.ENOSPC
	}
	return f.File.Write(p)
}

func (f fullFile) WriteAt(p []byte, off int64) (int, error) {
	if f.full.Load() {
		return 0, syscall.ENOSPC
	}
	return f.File.WriteAt(p, off)
}

func (f fullFile) Sync() error {
	if f.full.Load() {
		return syscall.ENOSPC
	}
	return f.File.Sync()
}

func (f fullFile) SyncData() error { return f.Sync() }

// A disk that fills up under the store's log: the failing commit returns
// an error with nothing applied (state, outbox, in memory or on disk),
// later batches fail alike without hanging while the disk is full, and
// once space returns the store is reopened and the same batch commits:
// its alerts once, its tuples decided as if the failure never happened.
func TestDiskFull(t *testing.T) {
	var full atomic.Bool
	dir := filepath.Join(t.TempDir(), "state")
	var logs []string
	s := openT(t, dir, func(o *Options) {
		o.fs = fullFS{vfs.Default, &full}
		o.reopenEvery = -1
		o.NoLearning = true
		o.Log = func(_ logx.Level, f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }
	})
	defer func() { s.Close() }()
	p := s.store.(*pebbleStore)
	// The disk fills up during the first failing commit: until then the
	// space check sees room.
	var statfsFull atomic.Bool
	p.free = func() (int64, error) {
		if statfsFull.Load() {
			return 0, nil
		}
		return 1 << 40, nil
	}
	batch := func(tuples ...string) ([]Decision, error) {
		b := s.Begin(false)
		var ds []Decision
		for i, v := range tuples {
			d, err := b.Check(tenDays, []string{v}, t0.Add(time.Duration(i)*time.Minute), "ev-"+v)
			if err != nil {
				b.Abort()
				return nil, err
			}
			ds = append(ds, d)
			if d == Novel {
				b.AddAlert([]byte(`{"tuple":"` + v + `"}`))
			}
		}
		return ds, b.Commit()
	}
	if _, err := batch("a", "b"); err != nil {
		t.Fatal(err)
	}
	full.Store(true)
	for i := range 3 {
		if _, err := batch("c", "a"); !errors.Is(err, ErrFailed) {
			t.Fatalf("commit %d on a full disk: %v, want ErrFailed", i, err)
		}
		if n, _ := s.OutboxSize(); n != 2 {
			t.Fatalf("outbox holds %d after a failed commit, want 2", n)
		}
		statfsFull.Store(true)
	}
	full.Store(false)
	statfsFull.Store(false)
	// The store reopens in the background: the first batch after space
	// returns starts it and still fails.
	if _, err := batch("c", "a"); !errors.Is(err, ErrFailed) {
		t.Fatalf("first commit after space returned: %v, want ErrFailed while the store reopens", err)
	}
	<-p.healing.done
	ds, err := batch("c", "a")
	if err != nil {
		t.Fatalf("commit after space returned: %v", err)
	}
	if !slices.Equal(ds, []Decision{Novel, Known}) {
		t.Errorf("decisions after the failure: %v, want [novel known]", ds)
	}
	alerts, err := s.Outbox(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var docs []string
	for _, a := range alerts {
		docs = append(docs, string(a.Doc))
	}
	if want := []string{`{"tuple":"a"}`, `{"tuple":"b"}`, `{"tuple":"c"}`}; !slices.Equal(docs, want) {
		t.Errorf("outbox %q, want %q", docs, want)
	}
	// Durable: a reopen sees the same.
	s.Close()
	s = openT(t, dir, nil)
	if n, _ := s.OutboxSize(); n != 3 {
		t.Errorf("after reopen the outbox holds %d, want 3", n)
	}
	var failed, reopened int
	for _, l := range logs {
		failed += strings.Count(l, "store failed")
		reopened += strings.Count(l, "reopened after the failure")
	}
	if failed != 1 || reopened != 1 {
		t.Errorf("logged the failure %d times and the reopen %d times, want once each: %q", failed, reopened, logs)
	}
}

// Short of space, a commit is refused before pebble is asked to write:
// nothing applied, and the same batch commits when space returns.
func TestMinFree(t *testing.T) {
	s := openT(t, t.TempDir(), func(o *Options) { o.NoLearning = true })
	defer s.Close()
	p := s.store.(*pebbleStore)
	p.free = func() (int64, error) { return p.minFree - 1, nil }
	b := s.Begin(false)
	if d, _ := b.Check(tenDays, []string{"a"}, t0, "ev"); d != Novel {
		t.Fatalf("decision %v", d)
	}
	b.AddAlert([]byte("{}"))
	if err := b.Commit(); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("commit short of space: %v, want ErrNoSpace", err)
	}
	p.free = func() (int64, error) { return p.minFree, nil }
	if d := check(t, s, tenDays, []string{"a"}, t0, false); d != Novel {
		t.Errorf("after space returned: %v, want novel (the refused commit wrote nothing)", d)
	}
}

// A background compaction stops at Close without finishing its scan: at
// millions of tuples the scan alone takes seconds, and the exit is bounded.
func TestCompactStops(t *testing.T) {
	s := openT(t, t.TempDir(), func(o *Options) { o.NoLearning = true })
	defer s.Close()
	for i := range 50 {
		check(t, s, tenDays, []string{fmt.Sprint("old", i)}, t0, false)
	}
	check(t, s, tenDays, []string{"now"}, t0.Add(30*24*time.Hour), false)
	stop := make(chan struct{})
	close(stop)
	if n, err := s.compact(stop); !errors.Is(err, errStopped) || n != 0 {
		t.Fatalf("stopped compaction removed %d, %v", n, err)
	}
	if n, err := s.Compact(); err != nil || n != 50 {
		t.Fatalf("compaction removed %d, %v; want 50", n, err)
	}
}
