package seentest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/newterms/newterms/internal/seen"
)

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

var (
	tenDays = seen.Rule{Key: "r1:abc", Name: "rule one", Window: 10 * day}
	edited  = seen.Rule{Key: "r1:def", Name: "rule one", Window: 10 * day} // same rule_id, another query hash
	hourly  = seen.Rule{Key: "h:1", Name: "hour", Window: time.Hour}
)

func exact(time.Duration) time.Duration { return 0 }

// check is one check of a batch: the rule (tenDays when unset), the
// tuple's values (split at "|"), the time after t0, whether the batch is
// learn-only, and the decision it must get.
type check struct {
	rule      *seen.Rule
	tuple     string
	at        time.Duration
	learnOnly bool
	want      seen.Decision
}

func (c check) values() []string { return strings.Split(c.tuple, "|") }

// runBatch runs checks as one batch, as the engine does: a novel check's
// alert document (its tuple and time) goes into the outbox.
func runBatch(e *env, s *seen.State, checks []check) {
	e.t.Helper()
	b := s.Begin(checks[0].learnOnly)
	for i, c := range checks {
		r := tenDays
		if c.rule != nil {
			r = *c.rule
		}
		at := t0.Add(c.at)
		d, err := b.Check(r, c.values(), at, "ev-"+at.Format(time.RFC3339))
		if err != nil {
			b.Abort()
			e.t.Fatal(err)
		}
		if d != c.want {
			b.Abort()
			e.t.Fatalf("check %d (%s %q at %v): %v, want %v", i, r.Key, c.tuple, c.at, d, c.want)
		}
		if d == seen.Novel {
			b.AddAlert(fmt.Appendf(nil, "%s@%v", c.tuple, c.at))
		}
	}
	if err := b.Commit(); err != nil {
		e.t.Fatal(err)
	}
}

// noveltyCases: the package's semantics (docs/design.md), each case once
// in one run and once with the state restarted after every batch: a
// restart changes no decision.
func noveltyCases() []testCase {
	one := func(cs ...check) [][]check { // a batch per check
		var bs [][]check
		for _, c := range cs {
			bs = append(bs, []check{c})
		}
		return bs
	}
	rows := []struct {
		name       string
		noLearning bool
		gran       func(time.Duration) time.Duration // nil: the default
		batches    [][]check
	}{
		{"learning: alerts only once a window is covered", false, nil, one(
			check{tuple: "a", at: 0, want: seen.Learning},
			check{tuple: "b", at: day, want: seen.Learning},
			check{tuple: "c", at: 10*day - time.Second, want: seen.Learning},
			check{tuple: "d", at: 10 * day, want: seen.Novel}, // exactly one window after the first event
			check{tuple: "a", at: 10 * day, want: seen.Known},
		)},
		{"window edges", true, nil, one(
			check{tuple: "a", at: 0, want: seen.Novel},
			check{tuple: "a", at: 10 * day, want: seen.Known},                                // exactly one window after last_seen
			check{tuple: "a", at: 20*day + time.Second, want: seen.Novel},                    // one second more than a window
			check{tuple: "a", at: 30 * day, want: seen.Known},                                // one second less
			check{tuple: "a", at: 40*day + time.Second + time.Millisecond, want: seen.Novel}, // 10d + 1ms after the stored last_seen
		)},
		{"known tuples refresh last_seen", true, nil, one(
			check{tuple: "a", at: 0, want: seen.Novel},
			check{tuple: "a", at: 9 * day, want: seen.Known},
			check{tuple: "a", at: 18 * day, want: seen.Known}, // within a window of the refreshed last_seen
			check{tuple: "a", at: 28*day + time.Second, want: seen.Novel},
		)},
		{"a refresh within the granularity is not written", true, nil, one(
			check{tuple: "a", at: 0, want: seen.Novel},
			check{tuple: "a", at: time.Hour, want: seen.Known}, // under window/100: last_seen stays at 0
			check{tuple: "a", at: 10*day + 30*time.Minute, want: seen.Novel},
		)},
		{"granularity 0: every refresh is written", true, exact, one(
			check{tuple: "a", at: 0, want: seen.Novel},
			check{tuple: "a", at: time.Hour, want: seen.Known},
			check{tuple: "a", at: 10*day + 30*time.Minute, want: seen.Known},
		)},
		{"out of order", true, nil, one(
			check{tuple: "a", at: 5 * day, want: seen.Novel},
			check{tuple: "a", at: day, want: seen.Known},       // older, within the window: moves first_seen back
			check{tuple: "a", at: -20 * day, want: seen.Known}, // far older: never novel
			check{tuple: "a", at: 15 * day, want: seen.Known},
			check{tuple: "b", at: 4 * day, want: seen.Novel}, // a new tuple is new whatever its time
		)},
		{"backfill then live", false, nil, one(
			check{tuple: "a", at: 0, learnOnly: true, want: seen.Backfilled},
			check{tuple: "b", at: 9 * day, learnOnly: true, want: seen.Backfilled},
			check{tuple: "a", at: 10 * day, want: seen.Known},
			check{tuple: "c", at: 11 * day, want: seen.Novel}, // the backfill covered the window
			check{tuple: "b", at: 11 * day, want: seen.Known},
		)},
		{"learning off", true, nil, one(
			check{tuple: "a", at: 0, want: seen.Novel},
			check{tuple: "b", at: time.Minute, want: seen.Novel},
			check{tuple: "a", at: time.Minute, want: seen.Known},
		)},
		{"a batch sees its own checks", true, nil, [][]check{{
			{tuple: "a", want: seen.Novel}, {tuple: "a", want: seen.Known},
			{tuple: "b", want: seen.Novel}, {tuple: "a", want: seen.Known},
		}}},
		{"tuples are length-prefixed", true, nil, one(
			check{tuple: "ab|c", want: seen.Novel}, check{tuple: "a|bc", want: seen.Novel},
			check{tuple: "abc", want: seen.Novel}, check{tuple: "|abc", want: seen.Novel},
			check{tuple: "abc|", want: seen.Novel}, check{tuple: "ab|c", want: seen.Known},
		)},
		{"an edited rule starts afresh", true, nil, one(
			check{tuple: "a", want: seen.Novel},
			check{rule: &edited, tuple: "a", want: seen.Novel},
			check{tuple: "a", at: time.Hour, want: seen.Known},
			check{rule: &edited, tuple: "a", at: time.Hour, want: seen.Known},
		)},
		{"rules keep apart", true, nil, [][]check{
			{{tuple: "a", want: seen.Novel}, {rule: &hourly, tuple: "a", want: seen.Novel}},
			{{tuple: "a", at: 2 * time.Hour, want: seen.Known}, {rule: &hourly, tuple: "a", at: 2 * time.Hour, want: seen.Novel}},
		}},
	}
	var cs []testCase
	for _, r := range rows {
		for _, restart := range []bool{false, true} {
			name := "novelty/" + r.name
			if restart {
				name += "/restarts"
			}
			cs = append(cs, testCase{name, func(e *env) {
				s := e.open(seen.Options{NoLearning: r.noLearning, Granularity: r.gran})
				var alerts []string
				for _, b := range r.batches {
					runBatch(e, s, b)
					for _, c := range b {
						if c.want == seen.Novel {
							alerts = append(alerts, fmt.Sprintf("%s@%v", c.tuple, c.at))
						}
					}
					if restart {
						s = e.restart()
					}
				}
				if got := docs(e, s); !slices.Equal(got, alerts) {
					e.t.Errorf("outbox %q, want %q", got, alerts)
				}
			}})
		}
	}
	return cs
}

// docs is the outbox's documents, in order.
func docs(e *env, s *seen.State) []string {
	e.t.Helper()
	all, err := s.Outbox(0, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for i, a := range all {
		if i > 0 && a.Seq <= all[i-1].Seq {
			e.t.Errorf("outbox sequence numbers out of order: %d after %d", a.Seq, all[i-1].Seq)
		}
		out = append(out, string(a.Doc))
	}
	return out
}

var errCommit = errors.New("commit refused")

// refusing is a store whose commits fail while refuse is set, writing
// nothing.
type refusing struct {
	seen.Store
	refuse bool
}

func (r *refusing) Apply(w *seen.Writes) error {
	if r.refuse {
		return errCommit
	}
	return r.Store.Apply(w)
}

func batchCases() []testCase {
	return []testCase{
		{"batch/an aborted batch leaves nothing", func(e *env) {
			s := e.open(seen.Options{NoLearning: true})
			runBatch(e, s, []check{{tuple: "known", want: seen.Novel}})
			before := contents(e.t, e.store)
			b := s.Begin(false)
			for _, tu := range []string{"a", "b", "known"} {
				if _, err := b.Check(tenDays, []string{tu}, t0.Add(5*day), "e"); err != nil {
					e.t.Fatal(err)
				}
			}
			b.Check(edited, []string{"a"}, t0, "e") // a rule record of its own
			b.AddAlert([]byte("aborted"))
			b.Abort()
			if after := contents(e.t, e.store); !maps.Equal(after, before) {
				e.t.Errorf("an aborted batch changed the store:\n%q\nwas\n%q", after, before)
			}
			if n, bytes := s.OutboxSize(); n != 1 || bytes != int64(len("known@0s")) {
				e.t.Errorf("outbox size %d, %d after an abort", n, bytes)
			}
			runBatch(e, s, []check{{tuple: "a", at: 5 * day, want: seen.Novel}})
			s = e.restart()
			runBatch(e, s, []check{{tuple: "b", at: 5 * day, want: seen.Novel}, {rule: &edited, tuple: "a", want: seen.Novel}})
		}},
		{"batch/a commit lands whole and durably", func(e *env) {
			s := e.open(seen.Options{NoLearning: true})
			runBatch(e, s, []check{
				{tuple: "a", want: seen.Novel}, {tuple: "b", want: seen.Novel},
				{rule: &hourly, tuple: "c", want: seen.Novel}, {tuple: "a", want: seen.Known},
			})
			s = e.restart()
			if got, want := docs(e, s), []string{"a@0s", "b@0s", "c@0s"}; !slices.Equal(got, want) {
				e.t.Errorf("outbox after a restart %q, want %q", got, want)
			}
			runBatch(e, s, []check{
				{tuple: "a", at: time.Minute, want: seen.Known}, {tuple: "b", at: time.Minute, want: seen.Known},
				{rule: &hourly, tuple: "c", at: time.Minute, want: seen.Known},
			})
		}},
		{"batch/a failed commit applies nothing", func(e *env) {
			ref := &refusing{}
			e.opts = seen.Options{NoLearning: true, CompactInterval: -1}
			ref.Store = e.openStore()
			o := e.opts
			o.Store = ref
			s, err := seen.Open(o)
			if err != nil {
				e.t.Fatal(err)
			}
			e.state = s
			runBatch(e, s, []check{{tuple: "a", want: seen.Novel}})
			before := contents(e.t, e.store)
			ref.refuse = true
			b := s.Begin(false)
			b.Check(tenDays, []string{"b"}, t0, "e")
			b.Check(edited, []string{"b"}, t0, "e")
			b.AddAlert([]byte("refused"))
			if err := b.Commit(); !errors.Is(err, errCommit) {
				e.t.Fatalf("commit: %v, want the store's error", err)
			}
			ref.refuse = false
			if after := contents(e.t, e.store); !maps.Equal(after, before) {
				e.t.Errorf("a failed commit changed the store:\n%q\nwas\n%q", after, before)
			}
			if n, _ := s.OutboxSize(); n != 1 {
				e.t.Errorf("outbox counts %d after a failed commit, want 1", n)
			}
			// The same batch again decides as the first time did.
			runBatch(e, s, []check{{tuple: "b", want: seen.Novel}, {rule: &edited, tuple: "b", want: seen.Novel}})
			if got, want := docs(e, s), []string{"a@0s", "b@0s", "b@0s"}; !slices.Equal(got, want) {
				e.t.Errorf("outbox %q, want %q", got, want)
			}
		}},
		{"batch/a batch with nothing to write commits nothing", func(e *env) {
			s := e.open(seen.Options{NoLearning: true})
			runBatch(e, s, []check{{tuple: "a", want: seen.Novel}})
			before := contents(e.t, e.store)
			b := s.Begin(false)
			b.Check(tenDays, []string{"a"}, t0.Add(time.Second), "e") // below the granularity
			if !b.Empty() {
				e.t.Error("a refresh below the granularity writes")
			}
			if err := b.Commit(); err != nil {
				e.t.Fatal(err)
			}
			if err := b.Commit(); err != seen.ErrDone {
				e.t.Errorf("second commit: %v, want ErrDone", err)
			}
			if after := contents(e.t, e.store); !maps.Equal(after, before) {
				e.t.Errorf("an empty batch changed the store:\n%q\nwas\n%q", after, before)
			}
		}},
	}
}

// fillOutbox commits n alerts {"n":i} in batches of per.
func fillOutbox(e *env, s *seen.State, from, n, per int) {
	e.t.Helper()
	for i := from; i < from+n; i += per {
		b := s.Begin(false)
		for j := i; j < min(i+per, from+n); j++ {
			b.AddAlert(fmt.Appendf(nil, `{"n":%d}`, j))
		}
		if err := b.Commit(); err != nil {
			e.t.Fatal(err)
		}
	}
}

func docN(i int) string { return fmt.Sprintf(`{"n":%d}`, i) }

// wantOutbox checks the outbox holds the alerts {"n":i} for i in want, in
// order, and that its size says so.
func wantOutbox(e *env, s *seen.State, when string, want []int) {
	e.t.Helper()
	var wd []string
	var bytes int64
	for _, i := range want {
		wd = append(wd, docN(i))
		bytes += int64(len(docN(i)))
	}
	if got := docs(e, s); !slices.Equal(got, wd) {
		e.t.Errorf("%s: outbox %q, want %q", when, got, wd)
	}
	if n, b := s.OutboxSize(); n != int64(len(want)) || b != bytes {
		e.t.Errorf("%s: outbox size %d alerts, %d bytes; want %d, %d", when, n, b, len(want), bytes)
	}
}

func span(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func outboxCases() []testCase {
	var cs []testCase
	// Pages read from a cursor and delivered: what is left survives a
	// restart and a reclaim, and later alerts come after it.
	pages := []struct {
		name  string
		pages []int // alerts per delivered page
	}{
		{"nothing delivered", nil},
		{"one page", []int{4}},
		{"pages", []int{1, 3, 2}},
		{"all", []int{6, 4}},
	}
	for _, p := range pages {
		cs = append(cs, testCase{"outbox/delivered from a cursor/" + p.name, func(e *env) {
			s := e.open(seen.Options{})
			fillOutbox(e, s, 0, 10, 3)
			b := s.Begin(false)
			b.AddAlert([]byte("aborted"))
			b.Abort()
			cursor, done := uint64(0), 0
			for _, n := range p.pages {
				page, err := s.Outbox(cursor, n)
				if err != nil || len(page) != n || string(page[0].Doc) != docN(done) {
					e.t.Fatalf("page of %d after %d: %v, %v", n, cursor, page, err)
				}
				if err := s.Delivered(page); err != nil {
					e.t.Fatal(err)
				}
				cursor, done = page[n-1].Seq, done+n
			}
			if rest, err := s.Outbox(cursor, 0); err != nil || len(rest) != 10-done {
				e.t.Errorf("after the cursor: %d alerts, %v; want %d", len(rest), err, 10-done)
			}
			if err := s.ReclaimOutbox(context.Background(), cursor); err != nil {
				e.t.Fatal(err)
			}
			wantOutbox(e, s, "delivered", span(done, 10))
			s = e.restart()
			wantOutbox(e, s, "restarted", span(done, 10))
			fillOutbox(e, s, 10, 2, 2)
			wantOutbox(e, s, "added after the restart", span(done, 12))
		}})
	}
	deletes := []struct {
		name string
		del  []int // indexes into the outbox
	}{
		{"none", nil},
		{"the first", []int{0}},
		{"scattered", []int{1, 3, 4}},
		{"the last", []int{5}},
		{"all", []int{0, 1, 2, 3, 4, 5}},
	}
	for _, d := range deletes {
		cs = append(cs, testCase{"outbox/delete/" + d.name, func(e *env) {
			s := e.open(seen.Options{})
			fillOutbox(e, s, 0, 6, 4)
			all, err := s.Outbox(0, 0)
			if err != nil {
				e.t.Fatal(err)
			}
			var gone []seen.Alert
			var left []int
			for i, a := range all {
				if slices.Contains(d.del, i) {
					gone = append(gone, a)
				} else {
					left = append(left, i)
				}
			}
			if err := s.Delete(gone); err != nil {
				e.t.Fatal(err)
			}
			wantOutbox(e, s, "deleted", left)
			s = e.restart()
			wantOutbox(e, s, "restarted", left)
		}})
	}
	cs = append(cs, testCase{"outbox/bad arguments change nothing", func(e *env) {
		s := e.open(seen.Options{})
		fillOutbox(e, s, 0, 3, 3)
		all, _ := s.Outbox(0, 0)
		if err := s.Delivered([]seen.Alert{all[2], all[0]}); err == nil {
			e.t.Error("delivered out of order: no error")
		}
		if got, err := s.Outbox(math.MaxUint64, 0); len(got) != 0 || err != nil {
			e.t.Errorf("after the last sequence number: %v, %v", got, err)
		}
		if err := s.ReclaimOutbox(context.Background(), math.MaxUint64); err != nil {
			e.t.Error(err)
		}
		if err := s.Delivered(nil); err != nil {
			e.t.Error(err)
		}
		wantOutbox(e, s, "after bad arguments", span(0, 3))
	}})
	return cs
}

func expiryCases() []testCase {
	return []testCase{
		{"expiry/compaction removes what expired, and no decision changes", func(e *env) {
			s := e.open(seen.Options{NoLearning: true})
			runBatch(e, s, []check{{tuple: "old", want: seen.Novel}})
			runBatch(e, s, []check{{tuple: "recent", at: 15 * day, want: seen.Novel}})
			runBatch(e, s, []check{{tuple: "now", at: 20 * day, want: seen.Novel}})
			n, err := s.Compact()
			if err != nil || n != 1 {
				e.t.Fatalf("compaction removed %d, %v; want 1", n, err)
			}
			var left []string
			if err := s.List("rule one", func(tu seen.Tuple) bool { left = append(left, tu.Values[0]); return true }); err != nil {
				e.t.Fatal(err)
			}
			if slices.Sort(left); !slices.Equal(left, []string{"now", "recent"}) {
				e.t.Errorf("left %q, want now and recent", left)
			}
			s = e.restart()
			runBatch(e, s, []check{
				{tuple: "old", at: 21 * day, want: seen.Novel}, // as it was: more than a window after its last_seen
				{tuple: "recent", at: 21 * day, want: seen.Known},
			})
			st, err := s.Stats()
			if err != nil || len(st) != 1 || st[0].Tuples != 3 || !st[0].Covered || st[0].Name != "rule one" {
				e.t.Errorf("stats %+v, %v", st, err)
			}
		}},
	}
}

// holdCases: the reorder window keeps held events across restarts; the
// release decides them in event-time order.
func holdCases() []testCase {
	type hc struct {
		at        int // minutes after t0
		tuple, id string
		want      seen.Decision
	}
	batches := [][]hc{
		{{100, "x", "e100", seen.Held}, {101, "y", "e101", seen.Held}},
		{{95, "x", "e95", seen.Held}}, // joins x: the earlier event carries the alert
		{{200, "z", "e200", seen.Held}},
	}
	var cs []testCase
	for _, restart := range []bool{false, true} {
		name := "hold/held events are decided in event-time order"
		if restart {
			name += "/restarts"
		}
		cs = append(cs, testCase{name, func(e *env) {
			if e.b.NoHold {
				o := seen.Options{NoLearning: true, MaxLateness: 30 * time.Minute, CompactInterval: -1, Store: e.openStore()}
				e.store = nil // Open closes it either way
				if s, err := seen.Open(o); err == nil {
					s.Close()
					e.t.Fatal("a state with max_lateness opened over a backend that cannot hold events")
				}
				return
			}
			s := e.open(seen.Options{NoLearning: true, Granularity: exact, MaxLateness: 30 * time.Minute})
			for _, hb := range batches {
				b := s.Begin(false)
				for i, c := range hb {
					d, err := b.Check(hourly, []string{c.tuple}, t0.Add(time.Duration(c.at)*time.Minute), c.id)
					if err != nil || d != c.want {
						b.Abort()
						e.t.Fatalf("%s: %v, %v; want %v", c.id, d, err, c.want)
					}
					if err := b.HoldAlert(i, []byte(c.id)); err != nil {
						e.t.Fatal(err)
					}
				}
				if err := b.Commit(); err != nil {
					e.t.Fatal(err)
				}
				if restart {
					s = e.restart()
				}
			}
			if got, want := docs(e, s), []string{"e95", "e101"}; !slices.Equal(got, want) {
				e.t.Errorf("alerts %q, want %q", got, want)
			}
			if n := s.HeldEvents(); n != 1 {
				e.t.Errorf("%d events held, want 1 (z)", n)
			}
			if _, err := s.Release(); err != nil {
				e.t.Fatal(err)
			}
			if got, want := docs(e, s), []string{"e95", "e101", "e200"}; !slices.Equal(got, want) {
				e.t.Errorf("alerts after the release %q, want %q", got, want)
			}
		}})
	}
	return cs
}

// concurrentCases: batches committed from several goroutines at once
// decide as the same batches run one after the other: each tuple is
// novel once, and the stored first and last sightings are the same.
func concurrentCases() []testCase {
	var cs []testCase
	for _, workers := range []int{2, 4} {
		cs = append(cs, testCase{fmt.Sprintf("concurrent/%d workers", workers), func(e *env) {
			const batches, perBatch, tuples = 8, 10, 30
			work := make([][][]check, workers)
			for w := range work {
				rng := rand.New(rand.NewPCG(uint64(w), 1))
				for range batches {
					var b []check
					for range perBatch {
						b = append(b, check{tuple: fmt.Sprint("t", rng.IntN(tuples)), at: time.Duration(rng.IntN(3600)) * time.Second})
					}
					work[w] = append(work[w], b)
				}
			}
			type result struct {
				decisions map[string][]seen.Decision // by tuple, sorted
				stored    map[string]string          // by tuple: first and last seen
				alerts    []string                   // sorted
			}
			run := func(s *seen.State, concurrent bool) result {
				var mu sync.Mutex
				res := result{decisions: map[string][]seen.Decision{}, stored: map[string]string{}}
				do := func(batches [][]check) {
					for _, bc := range batches {
						b := s.Begin(false)
						var ds []seen.Decision
						for _, c := range bc {
							d, err := b.Check(tenDays, c.values(), t0.Add(c.at), "e")
							if err != nil {
								e.t.Error(err)
							}
							if d == seen.Novel {
								b.AddAlert([]byte(c.tuple))
							}
							ds = append(ds, d)
						}
						if err := b.Commit(); err != nil {
							e.t.Error(err)
						}
						mu.Lock()
						for i, c := range bc {
							res.decisions[c.tuple] = append(res.decisions[c.tuple], ds[i])
						}
						mu.Unlock()
					}
				}
				var wg sync.WaitGroup
				for _, w := range work {
					if !concurrent {
						do(w)
						continue
					}
					wg.Add(1)
					go func() { defer wg.Done(); do(w) }()
				}
				wg.Wait()
				for _, ds := range res.decisions {
					slices.Sort(ds)
				}
				err := s.List(tenDays.Key, func(tu seen.Tuple) bool {
					res.stored[tu.Values[0]] = tu.FirstSeen.Format(time.TimeOnly) + ".." + tu.LastSeen.Format(time.TimeOnly)
					return true
				})
				if err != nil {
					e.t.Fatal(err)
				}
				res.alerts = docs(e, s)
				slices.Sort(res.alerts)
				return res
			}
			opts := seen.Options{NoLearning: true, Granularity: exact}
			got := run(e.open(opts), true)
			e.closeState()
			e.dir = e.t.TempDir()
			want := run(e.open(opts), false)
			if fmt.Sprint(got.decisions) != fmt.Sprint(want.decisions) {
				e.t.Errorf("decisions by tuple, concurrent:\n%v\none after the other:\n%v", got.decisions, want.decisions)
			}
			if !maps.Equal(got.stored, want.stored) {
				e.t.Errorf("stored sightings, concurrent:\n%v\none after the other:\n%v", got.stored, want.stored)
			}
			if !slices.Equal(got.alerts, want.alerts) {
				e.t.Errorf("alerts, concurrent: %q; one after the other: %q", got.alerts, want.alerts)
			}
			for tu, ds := range got.decisions {
				if n := strings.Count(fmt.Sprint(ds), "novel"); n != 1 {
					e.t.Errorf("%s novel %d times: %v", tu, n, ds)
				}
			}
		}})
	}
	return cs
}
