package seen

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

var hourRule = Rule{Key: "h:1", Name: "hour", Window: time.Hour}

func exactGran(time.Duration) time.Duration { return 0 }

// holdCheck is one check: minutes after t0, tuple, event id, and the
// decision Check must return.
type holdCheck struct {
	at    int
	tuple string
	id    string
	want  Decision
}

type holdBatch struct {
	learnOnly bool
	checks    []holdCheck
}

// runHold runs one batch as the engine does: the alert document of a novel
// check goes to AddAlert, that of a held one to HoldAlert (the documents
// are the event ids). It adds the batch's counters to sum.
func runHold(t *testing.T, s *State, r Rule, hb holdBatch, sum *Counters) {
	t.Helper()
	b := s.Begin(hb.learnOnly)
	for i, c := range hb.checks {
		d, err := b.Check(r, []string{c.tuple}, t0.Add(time.Duration(c.at)*time.Minute), c.id)
		if err != nil {
			t.Fatal(err)
		}
		if d != c.want {
			b.Abort()
			t.Fatalf("%s at %d (%s): %v, want %v", c.tuple, c.at, c.id, d, c.want)
		}
		switch {
		case d == Novel:
			b.AddAlert([]byte(c.id))
		case d == Held && !hb.learnOnly:
			if err := b.HoldAlert(i, []byte(c.id)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	addCounters(sum, b.Counters)
}

func addCounters(sum *Counters, c Counters) {
	sum.Novel += c.Novel
	sum.Learning += c.Learning
	sum.Backfilled += c.Backfilled
	sum.Cancelled += c.Cancelled
}

func outboxDocs(t testing.TB, s *State) []string {
	t.Helper()
	all, err := s.Outbox(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range all {
		out = append(out, string(a.Doc))
	}
	return out
}

// The reorder window's semantics, one case per rule of hold.go; a window of
// an hour, a granularity of 0. Every case gives other alerts in arrival
// order (the comment after each says which).
func TestHoldSemantics(t *testing.T) {
	type want struct{ novel, learning, backfilled, cancelled int }
	cases := []struct {
		name     string
		lateness time.Duration
		learning bool
		batches  []holdBatch
		alerts   []string // the outbox, in order, after a final Release
		want     want
	}{
		{"a candidate replaced by an earlier event", 30 * time.Minute, false, []holdBatch{
			{checks: []holdCheck{{100, "x", "e100", Held}}},
			{checks: []holdCheck{{95, "x", "e95", Held}}}, // joins, may be novel: nothing before it
			{checks: []holdCheck{{200, "z", "e200", Held}}},
		}, []string{"e95", "e200"}, want{novel: 2, cancelled: 1}}, // arrival order: e100, e200
		{"a candidate cancelled by an earlier event within the window", 30 * time.Minute, false, []holdBatch{
			{checks: []holdCheck{{0, "x", "e0", Held}}},
			{checks: []holdCheck{{40, "z", "e40", Held}}},  // releases x at 0
			{checks: []holdCheck{{70, "x", "e70", Held}}},  // 70 minutes after x's last_seen
			{checks: []holdCheck{{50, "x", "e50", Known}}}, // joins; within the window of x at 0
			{checks: []holdCheck{{200, "w", "e200", Held}}},
		}, []string{"e0", "e40", "e200"}, want{novel: 3, cancelled: 1}}, // arrival order: e70 too
		{"several episodes of one tuple", 4 * time.Hour, false, []holdBatch{
			{checks: []holdCheck{{200, "x", "e200", Held}, {150, "x", "e150", Held}}},
			{checks: []holdCheck{{0, "x", "e0", Held}, {100, "x", "e100", Held}}}, // e100: 100 minutes after e0
		}, []string{"e0", "e100"}, want{novel: 2, cancelled: 2}}, // arrival order: e200 only
		{"learning is decided at release", 2 * time.Hour, true, []holdBatch{
			{checks: []holdCheck{{100, "a", "e100", Held}}},
			{checks: []holdCheck{{30, "b", "e30", Held}, {95, "c", "e95", Held}}},
		}, []string{"e95", "e100"}, want{novel: 2, learning: 1}}, // arrival order: e95 only (e100 learning)
		{"late beyond the bound: arrival order", 30 * time.Minute, false, []holdBatch{
			{checks: []holdCheck{{100, "x", "e100", Held}}},
			{checks: []holdCheck{{200, "w", "e200", Held}}}, // releases x at 100
			{checks: []holdCheck{{50, "x", "e50", Known}, {60, "y", "e60", Novel}}},
		}, []string{"e100", "e60", "e200"}, want{novel: 3}},
		{"ties: the smaller event id, whatever the arrival", 30 * time.Minute, false, []holdBatch{
			{checks: []holdCheck{{10, "x", "eb", Held}}},
			{checks: []holdCheck{{10, "x", "ea", Held}}},
		}, []string{"ea"}, want{novel: 1, cancelled: 1}}, // arrival order: eb
		{"a duplicate delivery alerts once", 30 * time.Minute, false, []holdBatch{
			{checks: []holdCheck{{10, "x", "e10", Held}}},
			{checks: []holdCheck{{10, "x", "e10", Known}}},
		}, []string{"e10"}, want{novel: 1}},
		{"known at once while nothing is held", 80 * time.Minute, false, []holdBatch{
			{checks: []holdCheck{{0, "x", "e0", Held}}},
			{checks: []holdCheck{{100, "z", "e100", Held}}},                           // releases x at 0
			{checks: []holdCheck{{55, "x", "e55", Known}, {110, "x", "e110", Known}}}, // no write of a held event
		}, []string{"e0", "e100"}, want{novel: 2}},
		{"learn-only batches hold too, and backfill at release", time.Hour, false, []holdBatch{
			{learnOnly: true, checks: []holdCheck{{100, "x", "e100", Held}, {50, "x", "e50", Held}}},
			{checks: []holdCheck{{120, "x", "e120", Known}}}, // joins: within the window of e100
		}, nil, want{backfilled: 1, cancelled: 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := openT(t, t.TempDir(), func(o *Options) {
				o.NoLearning, o.Granularity, o.MaxLateness = !c.learning, exactGran, c.lateness
			})
			defer s.Close()
			var sum Counters
			for _, hb := range c.batches {
				runHold(t, s, hourRule, hb, &sum)
			}
			rc, err := s.Release()
			if err != nil {
				t.Fatal(err)
			}
			addCounters(&sum, rc)
			if got := outboxDocs(t, s); !slices.Equal(got, c.alerts) {
				t.Errorf("alerts %q, want %q", got, c.alerts)
			}
			got := want{sum.Novel, sum.Learning, sum.Backfilled, sum.Cancelled}
			if got != c.want {
				t.Errorf("counters %+v, want %+v", got, c.want)
			}
			if n := s.HeldEvents(); n != 0 {
				t.Errorf("%d events held after Release", n)
			}
		})
	}
}

// Held events survive a restart: the index is rebuilt, an event arriving
// after it joins them, and the release decides them all. The format marker
// says 2 while events are held, 1 once none are. Reopened with the window
// off, what is held is released at the next commit.
func TestHoldRestart(t *testing.T) {
	dir := t.TempDir()
	on := func(o *Options) { o.NoLearning, o.Granularity, o.MaxLateness = true, exactGran, 30*time.Minute }
	marker := func(s *State) string {
		v, _, err := s.store.Get(formatKey)
		if err != nil {
			t.Fatal(err)
		}
		return string(v)
	}
	var sum Counters
	s := openT(t, dir, on)
	runHold(t, s, hourRule, holdBatch{checks: []holdCheck{{100, "x", "e100", Held}, {101, "y", "e101", Held}}}, &sum)
	if m := marker(s); m != "2" {
		t.Errorf("format marker %q while events are held", m)
	}
	s.Close()
	s = openT(t, dir, on)
	if n := s.HeldEvents(); n != 2 {
		t.Fatalf("%d held events after reopening, want 2", n)
	}
	runHold(t, s, hourRule, holdBatch{checks: []holdCheck{{95, "x", "e95", Held}}}, &sum)
	s.Close()
	s = openT(t, dir, on)
	runHold(t, s, hourRule, holdBatch{checks: []holdCheck{{200, "z", "e200", Held}}}, &sum)
	if got, want := outboxDocs(t, s), []string{"e95", "e101"}; !slices.Equal(got, want) {
		t.Errorf("alerts %q, want %q", got, want)
	}
	if sum.Cancelled != 1 || s.HeldEvents() != 1 {
		t.Errorf("%d cancelled, %d held; want 1, 1", sum.Cancelled, s.HeldEvents())
	}
	s.Close()

	s = openT(t, dir, func(o *Options) { on(o); o.MaxLateness = 0 })
	defer s.Close()
	if n := s.HeldEvents(); n != 1 {
		t.Fatalf("%d held events, want 1", n)
	}
	// No new event is held: a new tuple is novel at once, and the commit
	// releases z.
	runHold(t, s, hourRule, holdBatch{checks: []holdCheck{{300, "v", "e300", Novel}}}, &sum)
	if got, want := outboxDocs(t, s), []string{"e95", "e101", "e300", "e200"}; !slices.Equal(got, want) {
		t.Errorf("alerts %q, want %q", got, want)
	}
	if m := marker(s); m != "1" || s.HeldEvents() != 0 {
		t.Errorf("format marker %q, %d held, once none are", m, s.HeldEvents())
	}
}

// A rule whose watermark has not moved for the idle time is released whole;
// one whose watermark moved since is not.
func TestReleaseIdle(t *testing.T) {
	s := openT(t, t.TempDir(), func(o *Options) { o.NoLearning, o.Granularity, o.MaxLateness = true, exactGran, 30*time.Minute })
	defer s.Close()
	busy := Rule{Key: "b:1", Name: "busy", Window: time.Hour}
	var sum Counters
	runHold(t, s, hourRule, holdBatch{checks: []holdCheck{{100, "x", "quiet100", Held}}}, &sum)
	runHold(t, s, busy, holdBatch{checks: []holdCheck{{100, "x", "busy100", Held}}}, &sum)
	now := time.Now()
	s.mu.Lock()
	s.advanced[ruleHash(hourRule.Key)] = now.Add(-2 * time.Hour)
	s.advanced[ruleHash(busy.Key)] = now.Add(-time.Minute)
	s.mu.Unlock()
	c, err := s.ReleaseIdle(time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if got := outboxDocs(t, s); c.Novel != 1 || !slices.Equal(got, []string{"quiet100"}) || s.HeldEvents() != 1 {
		t.Errorf("released %d: outbox %q, %d still held", c.Novel, got, s.HeldEvents())
	}
	if c, err := s.ReleaseIdle(time.Hour, now); err != nil || c.Released != 0 {
		t.Errorf("second release: %+v %v", c, err)
	}
}

// A held check without its alert document fails the commit; HoldAlert for
// a check that was not held is an error.
func TestHoldAlertMissing(t *testing.T) {
	s := openT(t, t.TempDir(), func(o *Options) { o.NoLearning, o.MaxLateness = true, time.Hour })
	defer s.Close()
	b := s.Begin(false)
	if d, err := b.Check(hourRule, []string{"x"}, t0, "e"); err != nil || d != Held {
		t.Fatalf("%v %v", d, err)
	}
	if err := b.HoldAlert(1, []byte("doc")); err == nil {
		t.Error("HoldAlert of a check that does not exist")
	}
	if err := b.HoldAlert(0, nil); err == nil {
		t.Error("HoldAlert of an empty document")
	}
	if err := b.Commit(); err == nil || !strings.Contains(err.Error(), "without its alert document") {
		t.Errorf("commit: %v", err)
	}
	if n := s.HeldEvents(); n != 0 {
		t.Errorf("%d held after a failed commit", n)
	}
}

// The property: a seeded stream, its events shuffled in arrival order by
// random delays below the window D, cut into random batches, with restarts
// and a cache too small to hold everything, then released at its end, gives
// exactly what the time-ordered stream gives without a window: the same
// alerts, learning decisions and tuple records.
func TestHoldModel(t *testing.T) {
	rules := []Rule{
		{Key: "a:1", Name: "hour", Window: time.Hour},
		{Key: "b:1", Name: "six hours", Window: 6 * time.Hour},
		{Key: "c:1", Name: "day", Window: 24 * time.Hour},
	}
	type event struct {
		rule   Rule
		tuple  []string
		at     time.Time
		id     string
		arrive time.Time
	}
	for seed := range uint64(9) {
		lateness := []time.Duration{10 * time.Minute, time.Hour, 3 * time.Hour}[seed%3]
		noLearning := seed%2 == 0
		t.Run(fmt.Sprintf("seed%d-D%s", seed, lateness), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 31))
			var events []event
			now := t0
			for i := range 3000 {
				if rng.IntN(4) > 0 { // else the same time as the event before
					now = now.Add(time.Duration(rng.IntN(int(20 * time.Minute))))
				}
				r := rules[rng.IntN(len(rules))]
				tuple := []string{fmt.Sprint("u", rng.IntN(8))}
				if r.Key == "c:1" {
					tuple = append(tuple, fmt.Sprint("as", rng.IntN(4)))
				}
				events = append(events, event{rule: r, tuple: tuple, at: now, id: fmt.Sprintf("e%05d", i),
					arrive: now.Add(time.Duration(rng.Int64N(int64(lateness))))})
			}
			run := func(dir string, lateness time.Duration, order []event) (alerts []string, sum Counters, records string) {
				opts := func(o *Options) {
					o.NoLearning, o.Granularity, o.MaxLateness = noLearning, exactGran, lateness
					o.CacheSize = 1 << 10 // two buckets of four records: evictions guaranteed
				}
				s := openT(t, dir, opts)
				defer func() { s.Close() }()
				for i := 0; i < len(order); {
					b := s.Begin(false)
					for n := 1 + rng.IntN(40); n > 0 && i < len(order); n-- {
						e := order[i]
						i++
						d, err := b.Check(e.rule, e.tuple, e.at, e.id)
						if err != nil {
							t.Fatal(err)
						}
						switch d {
						case Novel:
							b.AddAlert([]byte(e.id))
						case Held:
							if err := b.HoldAlert(b.Counters.Checked-1, []byte(e.id)); err != nil {
								t.Fatal(err)
							}
						}
					}
					if err := b.Commit(); err != nil {
						t.Fatal(err)
					}
					addCounters(&sum, b.Counters)
					if rng.IntN(25) == 0 {
						s.Close()
						s = openT(t, dir, opts)
					}
				}
				c, err := s.Release()
				if err != nil {
					t.Fatal(err)
				}
				addCounters(&sum, c)
				alerts = outboxDocs(t, s)
				slices.Sort(alerts)
				var b strings.Builder
				for _, r := range rules {
					var recs []string
					s.List(r.Key, func(tu Tuple) bool {
						recs = append(recs, fmt.Sprintf("%s %v %s %s %s\n", r.Name, tu.Values, tu.FirstSeen.Format(time.DateTime), tu.LastSeen.Format(time.DateTime), tu.FirstEventID))
						return true
					})
					slices.Sort(recs)
					b.WriteString(strings.Join(recs, ""))
				}
				return alerts, sum, b.String()
			}
			wantAlerts, wantSum, wantRecords := run(t.TempDir(), 0, events)
			if len(wantAlerts) < 20 {
				t.Fatalf("only %d alerts in the time-ordered stream", len(wantAlerts))
			}
			arrival := slices.Clone(events)
			slices.SortStableFunc(arrival, func(x, y event) int { return x.arrive.Compare(y.arrive) })
			gotAlerts, gotSum, gotRecords := run(t.TempDir(), lateness, arrival)
			if !slices.Equal(gotAlerts, wantAlerts) {
				t.Errorf("alerts differ from the time-ordered stream's: got %d, want %d\n%s", len(gotAlerts), len(wantAlerts), setDiff(gotAlerts, wantAlerts))
			}
			if gotSum.Novel != wantSum.Novel || gotSum.Learning != wantSum.Learning {
				t.Errorf("novel %d, learning %d; time order: %d, %d", gotSum.Novel, gotSum.Learning, wantSum.Novel, wantSum.Learning)
			}
			if gotRecords != wantRecords {
				t.Errorf("tuple records differ from the time-ordered stream's:\n%s", setDiff(strings.Split(gotRecords, "\n"), strings.Split(wantRecords, "\n")))
			}
			t.Logf("%d alerts, %d candidates cancelled", len(gotAlerts), gotSum.Cancelled)
		})
	}
}

func setDiff(got, want []string) string {
	var b strings.Builder
	for _, g := range got {
		if !slices.Contains(want, g) {
			fmt.Fprintf(&b, "unexpected %s\n", g)
		}
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			fmt.Fprintf(&b, "missing %s\n", w)
		}
	}
	return b.String()
}

// Expiry keeps the tuples an on-time event could still find known: those
// idle for less than a window plus the reorder window.
func TestHoldCompact(t *testing.T) {
	s := openT(t, t.TempDir(), func(o *Options) { o.NoLearning, o.Granularity, o.MaxLateness = true, exactGran, 30*time.Minute })
	defer s.Close()
	var sum Counters
	runHold(t, s, hourRule, holdBatch{checks: []holdCheck{{20, "x", "e20", Held}}}, &sum)
	runHold(t, s, hourRule, holdBatch{checks: []holdCheck{{100, "z", "e100", Held}}}, &sum) // releases x at 20
	if n, err := s.Compact(); err != nil || n != 0 {
		t.Fatalf("removed %d, %v; want 0: x at 20 is within a window of an event at 70", n, err)
	}
	runHold(t, s, hourRule, holdBatch{checks: []holdCheck{{75, "x", "e75", Known}}}, &sum)
	runHold(t, s, hourRule, holdBatch{checks: []holdCheck{{200, "w", "e200", Held}}}, &sum) // releases z at 100
	if n, err := s.Compact(); err != nil || n != 2 {
		t.Fatalf("removed %d, %v; want 2 (x at 75, z at 100)", n, err)
	}
}
