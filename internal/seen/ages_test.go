package seen

import (
	"fmt"
	"testing"
	"time"
)

// The age of the oldest waiting alert follows the commits and deliveries:
// one entry per second of commits, dropped as alerts leave in order.
func TestOutboxAges(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	type step struct {
		op    string // add, remove, empty, load
		seq   uint64
		t     float64
		want  float64 // oldest, seconds after t0; -1: zero time
		count int     // entries kept
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"commits within a second share an entry", []step{
			{"add", 1, 0, 0, 1}, {"add", 5, 0.5, 0, 1}, {"add", 9, 1.2, 0, 2},
			{"remove", 4, 0, 0, 2}, // 5.. left: still the first second's
			{"remove", 8, 0, 1.2, 1},
			{"empty", 12, 0, -1, 0},
		}},
		{"a removal through the start of the next entry drops it whole", []step{
			{"add", 1, 0, 0, 1}, {"add", 3, 2, 0, 2}, {"add", 6, 4, 0, 3},
			{"remove", 2, 0, 2, 2}, {"remove", 5, 0, 4, 1}, {"remove", 6, 0, 4, 1},
		}},
		{"loading an outbox knows its alerts from then on", []step{
			{"load", 7, 10, 10, 1}, {"add", 9, 11, 10, 2}, {"remove", 8, 0, 11, 1},
		}},
		{"a reload keeps what it knew", []step{
			{"add", 1, 0, 0, 1}, {"add", 4, 3, 0, 2}, {"load", 4, 20, 3, 1},
		}},
		{"a reload of alerts older than what it knew adds them", []step{
			{"add", 5, 3, 3, 1}, {"load", 2, 20, 20, 2},
		}},
		{"loading an empty outbox forgets", []step{
			{"add", 1, 0, 0, 1}, {"load", 0, 20, -1, 0},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var a outboxAges
			for i, s := range tc.steps {
				switch s.op {
				case "add":
					a.added(s.seq, at(s.t))
				case "remove":
					a.removed(s.seq, false)
				case "empty":
					a.removed(s.seq, true)
				case "load":
					a.loaded(s.seq, at(s.t))
				}
				got := a.oldest()
				want := time.Time{}
				if s.want >= 0 {
					want = at(s.want)
				}
				if !got.Equal(want) || len(a.entries) != s.count {
					t.Fatalf("step %d %+v: oldest %v with %d entries, want %v with %d", i, s, got, len(a.entries), want, s.count)
				}
			}
		})
	}
}

// OutboxOldest and DiskUsage on a real state: alerts committed, delivered,
// and still there after a reopen.
func TestOutboxOldestAndDiskUsage(t *testing.T) {
	dir := t.TempDir()
	open := func() *State {
		s, err := Open(Options{Dir: dir, CompactInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	if !s.OutboxOldest().IsZero() {
		t.Fatal("an empty outbox has an oldest alert")
	}
	if n, ok := s.DiskUsage(); !ok || n <= 0 {
		t.Fatalf("DiskUsage %d %v", n, ok)
	}
	before := time.Now()
	b := s.Begin(false)
	for i := range 3 {
		b.AddAlert(fmt.Appendf(nil, `{"n":%d}`, i))
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if o := s.OutboxOldest(); o.Before(before) || o.After(time.Now()) {
		t.Fatalf("oldest %v, committed after %v", o, before)
	}
	page, err := s.Outbox(0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delivered(page); err != nil || s.OutboxOldest().IsZero() {
		t.Fatalf("after delivering one of three: %v, oldest %v", err, s.OutboxOldest())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	reopened := time.Now()
	s = open()
	defer s.Close()
	if o := s.OutboxOldest(); o.Before(reopened) {
		t.Fatalf("after a reopen the oldest is %v, before the reopening (%v)", o, reopened)
	}
	rest, err := s.Outbox(0, 0)
	if err != nil || len(rest) != 2 {
		t.Fatalf("%d alerts left, %v", len(rest), err)
	}
	if err := s.Delivered(rest); err != nil || !s.OutboxOldest().IsZero() {
		t.Fatalf("after delivering all: %v, oldest %v", err, s.OutboxOldest())
	}
}
