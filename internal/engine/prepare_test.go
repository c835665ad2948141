package engine

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/newterms/newterms/internal/synth"
)

// Batches prepared at once on several goroutines and committed in order
// give the oracle's alerts, the counters of Process, and the stream's
// event-time range.
func TestPrepareCommit(t *testing.T) {
	events := synth.Stream(synth.Options{Seed: 4, Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Days: 24, Events: 4000})
	e := newEngine(t, t.TempDir(), false, nil)
	defer e.Close()
	role, subject := ruleKeys(t, e)
	want := ids(synth.Expected(events, role, subject, 10*24*time.Hour), 0)
	var batches [][]Record
	first, last := events[0].Time, events[0].Time
	for i, ev := range events {
		if i%150 == 0 {
			batches = append(batches, nil)
		}
		batches[len(batches)-1] = append(batches[len(batches)-1], Record{Data: ev.JSON})
		if ev.Time.Before(first) {
			first = ev.Time
		}
		if ev.Time.After(last) {
			last = ev.Time
		}
	}
	prepared := make([]*Prepared, len(batches))
	var wg sync.WaitGroup
	for i := range batches {
		wg.Go(func() { prepared[i] = e.Prepare(slices.Values(batches[i])) })
	}
	wg.Wait()
	var got []string
	var lo, hi time.Time
	for _, p := range prepared {
		if lo.IsZero() || p.First.Before(lo) {
			lo = p.First
		}
		if p.Last.After(hi) {
			hi = p.Last
		}
		if _, err := e.Commit(p); err != nil {
			t.Fatal(err)
		}
		drain(t, e, &got)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("alerts differ from the oracle: got %d, want %d\n%s", len(got), len(want), diff(got, want))
	}
	// The records' times are whole seconds.
	if first, last = first.Truncate(time.Second), last.Truncate(time.Second); !lo.Equal(first) || !hi.Equal(last) {
		t.Errorf("range %s to %s, want %s to %s", lo, hi, first, last)
	}
	if c := e.Stats(); c.Records != int64(len(events)) || c.Alerts != int64(len(want)) {
		t.Errorf("counters: %d records, %d alerts", c.Records, c.Alerts)
	}
}

func TestRawEventTime(t *testing.T) {
	cases := []struct {
		in, want string
	}{
		{`{"eventVersion":"1.08","userIdentity":{"type":"Root"},"eventTime":"2026-03-01T10:00:00Z","x":1}`, "2026-03-01T10:00:00Z"},
		{"{\n  \"eventTime\" :\n \"2026-03-01T10:00:00.5+02:00\"}", "2026-03-01T08:00:00.5Z"},
		{`{"eventTime":12}`, ""},
		{`{"eventTime":"yesterday"}`, ""},
		{`{"eventTime":"2026-03-01T10:00:00Z`, ""},
		{`eyJldmVudFRpbWUiOiIyMDI2In0=`, ""},
	}
	for _, c := range cases {
		got := ""
		if ts, ok := rawEventTime([]byte(c.in)); ok {
			got = ts.Format(time.RFC3339Nano)
		}
		if got != c.want {
			t.Errorf("%s: %q, want %q", c.in, got, c.want)
		}
	}
}
