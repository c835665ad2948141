package seentest

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/newterms/newterms/internal/seen"
)

// model is the reference: the semantics of the seen package's doc over
// plain maps.
type model struct {
	noLearning bool
	gran       func(time.Duration) time.Duration
	entries    map[string]*[2]int64 // rule key + tuple -> first, stored last
	earliest   map[string]int64
}

func (m *model) check(r seen.Rule, tuple []string, ms int64, learnOnly bool) seen.Decision {
	k := r.Key + "\x00" + fmt.Sprintf("%q", tuple)
	if e, ok := m.earliest[r.Key]; !ok || ms < e {
		m.earliest[r.Key] = ms
	}
	w := r.Window.Milliseconds()
	if e, ok := m.entries[k]; ok && ms-e[1] <= w {
		switch {
		case ms < e[0]:
			e[0] = ms
		case ms-e[1] > m.gran(r.Window).Milliseconds():
			e[1] = ms
		}
		return seen.Known
	}
	m.entries[k] = &[2]int64{ms, ms}
	switch {
	case learnOnly:
		return seen.Backfilled
	case !m.noLearning && m.earliest[r.Key] > ms-w:
		return seen.Learning
	}
	return seen.Novel
}

// modelCases: random streams, cut into random batches, with the state
// restarted at random points (and its cache too small to hold
// everything): every decision equals the reference model's. Seeded: the
// same streams every run.
func modelCases() []testCase {
	rules := []seen.Rule{
		{Key: "a:1", Name: "hour", Window: time.Hour},
		{Key: "b:1", Name: "ten hours", Window: 10 * time.Hour},
		{Key: "c:1", Name: "day", Window: 24 * time.Hour},
	}
	const events = 3000
	var cs []testCase
	for seed := range uint64(12) {
		cs = append(cs, testCase{fmt.Sprint("model/seed", seed), func(e *env) {
			rng := rand.New(rand.NewPCG(seed, 7))
			noLearning := seed%3 == 0
			gran := seen.DefaultGranularity
			if seed%2 == 1 {
				gran = exact
			}
			m := &model{noLearning: noLearning, gran: gran, entries: map[string]*[2]int64{}, earliest: map[string]int64{}}
			// A cache of two buckets of four records: evictions guaranteed.
			s := e.open(seen.Options{NoLearning: noLearning, Granularity: gran, CacheSize: 1 << 10})
			now := t0
			for i := 0; i < events; {
				learnOnly := i < 300 && seed%4 == 1
				b := s.Begin(learnOnly)
				for n := 1 + rng.IntN(30); n > 0 && i < events; n-- {
					i++
					// Mostly forward in time, sometimes back (out of order).
					step := time.Duration(rng.IntN(int(20 * time.Minute)))
					if rng.IntN(10) == 0 {
						step = -time.Duration(rng.IntN(int(6 * time.Hour)))
					}
					now = now.Add(step)
					r := rules[rng.IntN(len(rules))]
					tuple := []string{fmt.Sprint("u", rng.IntN(8))}
					if r.Key == "c:1" {
						tuple = append(tuple, fmt.Sprint("as", rng.IntN(4)))
					}
					want := m.check(r, tuple, now.UnixMilli(), learnOnly)
					got, err := b.Check(r, tuple, now, fmt.Sprint("e", i))
					if err != nil {
						b.Abort()
						e.t.Fatal(err)
					}
					if got != want {
						b.Abort()
						e.t.Fatalf("event %d (%s %v at %s): %v, the model says %v", i, r.Name, tuple, now.Format(time.RFC3339), got, want)
					}
				}
				if err := b.Commit(); err != nil {
					e.t.Fatal(err)
				}
				if rng.IntN(20) == 0 {
					s = e.restart()
				}
			}
		}})
	}
	return cs
}
