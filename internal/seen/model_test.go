package seen

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// model is the reference: the semantics of the package doc over plain maps.
type model struct {
	noLearning bool
	gran       func(time.Duration) time.Duration
	entries    map[string]*[2]int64 // rule key + tuple -> first, stored last
	earliest   map[string]int64
}

func (m *model) check(r Rule, tuple []string, ms int64, learnOnly bool) Decision {
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
		return Known
	}
	m.entries[k] = &[2]int64{ms, ms}
	switch {
	case learnOnly:
		return Backfilled
	case !m.noLearning && m.earliest[r.Key] > ms-w:
		return Learning
	}
	return Novel
}

// Random streams, cut into random batches, with the state closed and
// reopened at random points (and its cache too small to hold everything):
// every decision equals the reference model's.
func TestModel(t *testing.T) {
	rules := []Rule{
		{Key: "a:1", Name: "hour", Window: time.Hour},
		{Key: "b:1", Name: "ten hours", Window: 10 * time.Hour},
		{Key: "c:1", Name: "day", Window: 24 * time.Hour},
	}
	for seed := range uint64(12) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			noLearning := seed%3 == 0
			gran := DefaultGranularity
			if seed%2 == 1 {
				gran = func(time.Duration) time.Duration { return 0 }
			}
			m := &model{noLearning: noLearning, gran: gran, entries: map[string]*[2]int64{}, earliest: map[string]int64{}}
			dir := t.TempDir()
			opts := func(o *Options) {
				o.NoLearning, o.Granularity = noLearning, gran
				o.CacheSize = 64 * cacheEntryCost // evictions guaranteed
			}
			s := openT(t, dir, opts)
			defer func() { s.Close() }()
			now := t0
			for i := 0; i < 3000; {
				learnOnly := i < 300 && seed%4 == 1
				b := s.Begin(learnOnly)
				for n := 1 + rng.IntN(30); n > 0 && i < 3000; n-- {
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
						t.Fatal(err)
					}
					if got != want {
						t.Fatalf("event %d (%s %v at %s): %v, model says %v", i, r.Name, tuple, now.Format(time.RFC3339), got, want)
					}
				}
				if err := b.Commit(); err != nil {
					t.Fatal(err)
				}
				if rng.IntN(20) == 0 {
					s.Close()
					s = openT(t, dir, opts)
				}
			}
		})
	}
}
