package seen

import (
	"context"
	"fmt"
	"math"
	"testing"
)

// Delivered removes exactly the alerts delivered, in pages read with a
// cursor, and keeps the rest across a reopen and a reclaim.
func TestOutboxDelivered(t *testing.T) {
	cases := []struct {
		name  string
		pages []int // alerts per delivered page
	}{
		{"nothing", nil},
		{"one page", []int{4}},
		{"pages", []int{1, 3, 2}},
		{"all", []int{6, 4}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openT(t, dir, nil)
			b := s.Begin(false)
			for i := range 10 {
				b.AddAlert(fmt.Appendf(nil, `{"n":%d}`, i))
			}
			if err := b.Commit(); err != nil {
				t.Fatal(err)
			}
			cursor, done := uint64(0), 0
			for _, n := range c.pages {
				page, err := s.Outbox(cursor, n)
				if err != nil || len(page) != n || string(page[0].Doc) != fmt.Sprintf(`{"n":%d}`, done) {
					t.Fatalf("page after %d: %v %v", cursor, page, err)
				}
				if err := s.Delivered(page); err != nil {
					t.Fatal(err)
				}
				cursor, done = page[n-1].Seq, done+n
			}
			if err := s.ReclaimOutbox(context.Background(), cursor); err != nil {
				t.Fatal(err)
			}
			want := func(s *State, when string) {
				t.Helper()
				if n, bytes := s.OutboxSize(); n != int64(10-done) || bytes != int64(len(`{"n":0}`)*(10-done)) {
					t.Errorf("%s: size %d %d, want %d alerts", when, n, bytes, 10-done)
				}
				left, err := s.Outbox(0, 0)
				if err != nil || len(left) != 10-done {
					t.Fatalf("%s: %d left, want %d: %v", when, len(left), 10-done, err)
				}
				for i, a := range left {
					if string(a.Doc) != fmt.Sprintf(`{"n":%d}`, done+i) {
						t.Errorf("%s: alert %d is %s", when, i, a.Doc)
					}
				}
			}
			want(s, "delivered")
			s.Close()
			s = openT(t, dir, nil)
			defer s.Close()
			want(s, "reopened")
		})
	}
}

func TestOutboxBadArguments(t *testing.T) {
	s := openT(t, t.TempDir(), nil)
	defer s.Close()
	b := s.Begin(false)
	for i := range 3 {
		b.AddAlert(fmt.Appendf(nil, `{"n":%d}`, i))
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	all, _ := s.Outbox(0, 0)
	if err := s.Delivered([]Alert{all[2], all[0]}); err == nil {
		t.Error("delivered out of order: no error")
	}
	if got, _ := s.Outbox(math.MaxUint64, 0); len(got) != 0 {
		t.Errorf("after the last sequence number: %v", got)
	}
	if err := s.ReclaimOutbox(context.Background(), math.MaxUint64); err != nil {
		t.Error(err)
	}
	if n, _ := s.OutboxSize(); n != 3 {
		t.Errorf("outbox holds %d, want 3", n)
	}
	if left, _ := s.Outbox(0, 0); len(left) != 3 {
		t.Errorf("%d left, want 3", len(left))
	}
}
