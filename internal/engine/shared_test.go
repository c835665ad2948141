package engine

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/newterms/newterms/internal/seen"
	"github.com/newterms/newterms/internal/seen/seentest"
	"github.com/newterms/newterms/internal/synth"
)

// sharedEngine is an engine on the shared state prefix of srv.
func sharedEngine(t testing.TB, srv *seentest.RedisServer, prefix string, learnOnly bool) *Engine {
	t.Helper()
	return newEngine(t, "", learnOnly, func(c *Config) {
		c.StateBackend = BackendRedis
		c.Redis = RedisConfig{Address: srv.Addr(), KeyPrefix: prefix}
	})
}

// chunked cuts events into chunks of 1 to 200 records.
func chunked(rng *rand.Rand, events []synth.Event) (chunks [][]Record, pos []int) {
	pos = make([]int, len(events)) // chunk of each event
	for i := 0; i < len(events); {
		var c []Record
		for n := 1 + rng.IntN(200); n > 0 && i < len(events); n-- {
			c = append(c, Record{Data: events[i].JSON})
			pos[i] = len(chunks)
			i++
		}
		chunks = append(chunks, c)
	}
	return chunks, pos
}

// runNodes processes the chunks on the engines, each chunk on one chosen
// at random, n at once: the chunk at place p starts once the one at p-n
// is done, as n nodes that each take the next chunk of a shared stream
// (Kafka partitions, a load balancer) run. It returns each chunk's commit
// number and the conflicts the engines met.
func runNodes(t *testing.T, rng *rand.Rand, engines []*Engine, chunks [][]Record) ([]uint64, int64) {
	t.Helper()
	n := len(engines)
	node := make([]int, len(chunks))
	for i := range node {
		node[i] = rng.IntN(n)
	}
	done := make([]chan struct{}, len(chunks))
	for i := range done {
		done[i] = make(chan struct{})
	}
	work := make([]chan int, n)
	for i := range work {
		work[i] = make(chan int, len(chunks))
	}
	for p := range chunks {
		work[node[p]] <- p
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(chunks))
	commits := make([]uint64, len(chunks))
	// Each node works through its own chunks in order, one at a time,
	// but a chunk waits for the one n places before it: at most n chunks
	// run at once, neighbours in the stream.
	for i, e := range engines {
		close(work[i])
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work[i] {
				if p >= n {
					<-done[p-n]
				}
				res, err := e.Process(chunks[p])
				if err != nil {
					errs <- fmt.Errorf("chunk %d on node %d: %w", p, i, err)
				}
				commits[p] = res.Commit
				close(done[p])
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var conflicts int64
	for _, e := range engines {
		conflicts += e.Stats().Conflicts
	}
	return commits, conflicts
}

// inCommitOrder is the stream as the nodes decided it: the chunks in the
// order of their commits (a chunk that wrote nothing, only known tuples,
// changes no decision wherever it goes: at the end), each chunk's events
// in order. It returns the reordered events and, for each, its place in
// the stream.
func inCommitOrder(events []synth.Event, pos []int, commits []uint64) ([]synth.Event, []int) {
	order := make([]int, len(events))
	for i := range order {
		order[i] = i
	}
	key := func(i int) uint64 {
		if c := commits[pos[i]]; c != 0 {
			return c
		}
		return math.MaxUint64
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(key(a), key(b)) })
	out := make([]synth.Event, len(events))
	for j, i := range order {
		out[j] = events[i]
	}
	return out, order
}

// matchOracle compares the alerts got with the oracle's over the stream
// in commit order (inCommitOrder): optimistic concurrency makes the
// nodes' decisions those of their batches run one after the other in
// that order, so the alerts must be the oracle's exactly, each once. It
// also counts the alerts the oracle over the stream order gives
// differently: where nodes racing on a tuple changed which event opened
// its episode.
func matchOracle(t *testing.T, got []string, roleKey, subjectKey string, events []synth.Event, pos []int, commits []uint64) {
	t.Helper()
	seen := map[string]bool{}
	for _, g := range got {
		if seen[g] {
			t.Errorf("alert %s delivered twice", g)
		}
		seen[g] = true
	}
	ordered, _ := inCommitOrder(events, pos, commits)
	want := ids(synth.Expected(ordered, roleKey, subjectKey, 10*24*time.Hour), 0)
	slices.Sort(got)
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("alerts differ from the oracle's over the commit order: got %d, want %d\n%s", len(got), len(want), diff(got, want))
	}
	inStream := ids(synth.Expected(events, roleKey, subjectKey, 10*24*time.Hour), 0)
	same := 0
	for _, id := range inStream {
		if slices.Contains(want, id) {
			same++
		}
	}
	t.Logf("%d alerts, each once, as the oracle over the commit order; the oracle over the stream order has %d of them, and %d others", len(want), same, len(inStream)-same)
}

// N engines on one Redis, the stream's chunks spread over them at
// random and run N at once: the oracle's alerts, each once.
func TestSharedOracle(t *testing.T) {
	srv := seentest.StartRedis(t)
	for _, n := range []int{1, 2, 4} {
		for seed := range uint64(2) {
			t.Run(fmt.Sprintf("%d nodes/seed%d", n, seed), func(t *testing.T) {
				events := synth.Stream(synth.Options{Seed: seed, Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Days: 24, Events: 4000})
				prefix := fmt.Sprintf("oracle-%d-%d", n, seed)
				var engines []*Engine
				for range n {
					e := sharedEngine(t, srv, prefix, false)
					defer e.Close()
					engines = append(engines, e)
				}
				role, subject := ruleKeys(t, engines[0])
				rng := rand.New(rand.NewPCG(seed, uint64(n)))
				chunks, pos := chunked(rng, events)
				commits, conflicts := runNodes(t, rng, engines, chunks)
				var got []string
				drain(t, engines[0], &got)
				matchOracle(t, got, role, subject, events, pos, commits)
				if n == 1 && !slices.Equal(got, ids(synth.Expected(events, role, subject, 10*24*time.Hour), 0)) {
					t.Fatal("one node: alerts differ from the oracle over the stream order")
				}
				t.Logf("%d conflicts decided again", conflicts)
			})
		}
	}
}

// Nodes racing on the same new tuples: every node processes the same
// chunks at the same moment; each new tuple alerts exactly once, on
// whichever node commits it first.
func TestSharedRace(t *testing.T) {
	srv := seentest.StartRedis(t)
	for _, n := range []int{2, 4} {
		t.Run(fmt.Sprintf("%d nodes", n), func(t *testing.T) {
			events := synth.Stream(synth.Options{Seed: 7, Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Days: 24, Events: 3000})
			prefix := fmt.Sprintf("race-%d", n)
			var engines []*Engine
			for range n {
				e := newEngine(t, "", false, func(c *Config) {
					c.StateBackend, c.Learning = BackendRedis, false
					c.Redis = RedisConfig{Address: srv.Addr(), KeyPrefix: prefix}
				})
				defer e.Close()
				engines = append(engines, e)
			}
			var chunks [][]Record
			for i := 0; i < len(events); i += 100 {
				var c []Record
				for _, ev := range events[i:min(i+100, len(events))] {
					c = append(c, Record{Data: ev.JSON})
				}
				chunks = append(chunks, c)
			}
			// The chunks in order, each on every node at once.
			for _, c := range chunks {
				var wg sync.WaitGroup
				for _, e := range engines {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if _, err := e.Process(c); err != nil {
							t.Error(err)
						}
					}()
				}
				wg.Wait()
			}
			// One node alone on a state of its own: the alerts wanted.
			alone := newEngine(t, t.TempDir(), false, func(c *Config) { c.Learning = false })
			defer alone.Close()
			var want []string
			for _, c := range chunks {
				if _, err := alone.Process(c); err != nil {
					t.Fatal(err)
				}
			}
			drain(t, alone, &want)
			var got []string
			drain(t, engines[0], &got)
			slices.Sort(got)
			slices.Sort(want)
			var novel, conflicts int64
			for _, e := range engines {
				novel += e.Stats().Novel
				conflicts += e.Stats().Conflicts
			}
			if !slices.Equal(got, want) || novel != int64(len(want)) || len(want) == 0 {
				t.Fatalf("%d nodes: %d alerts (%d novel decisions), one node alone %d\n%s", n, len(got), novel, len(want), diff(got, want))
			}
			t.Logf("%d alerts, each once; %d conflicts decided again", len(got), conflicts)
		})
	}
}

// A learn-only backfill into the shared state, then live traffic through
// two nodes: the oracle's live alerts.
func TestSharedBackfillThenLive(t *testing.T) {
	srv := seentest.StartRedis(t)
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	events := synth.Stream(synth.Options{Seed: 42, Start: start, Days: 20, Events: 4000})
	split := len(events) / 2
	b := sharedEngine(t, srv, "backfill", true)
	role, subject := ruleKeys(t, b)
	var recs []Record
	for _, ev := range events[:split] {
		recs = append(recs, Record{Data: ev.JSON})
	}
	if res, err := b.Process(recs); err != nil || res.Alerts != 0 {
		t.Fatalf("backfill: %+v %v", res, err)
	}
	b.Close()
	engines := []*Engine{sharedEngine(t, srv, "backfill", false), sharedEngine(t, srv, "backfill", false)}
	for _, e := range engines {
		defer e.Close()
	}
	rng := rand.New(rand.NewPCG(42, 2))
	chunks, pos := chunked(rng, events[split:])
	commits, _ := runNodes(t, rng, engines, chunks)
	var got []string
	drain(t, engines[0], &got)
	// The backfill committed first: its events come first, in order.
	ordered, _ := inCommitOrder(events[split:], pos, commits)
	all := append(slices.Clone(events[:split]), ordered...)
	want := ids(synth.Expected(all, role, subject, 10*24*time.Hour), split)
	slices.Sort(got)
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("live alerts differ from the oracle's: got %d, want %d\n%s", len(got), len(want), diff(got, want))
	}
}

// The server killed (SIGKILL) in the middle of a stream and started
// again: while it is down every batch fails, applying nothing (the
// plugin returns FLB_RETRY and Fluent Bit retries the chunk); once it is
// back, the retried chunks commit, and with its append-only file nothing
// committed is lost: the oracle's alerts, each once.
func TestSharedServerRestart(t *testing.T) {
	srv := seentest.StartRedis(t)
	events := synth.Stream(synth.Options{Seed: 3, Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Days: 24, Events: 4000})
	e := sharedEngine(t, srv, "restart", false)
	defer e.Close()
	role, subject := ruleKeys(t, e)
	rng := rand.New(rand.NewPCG(3, 3))
	chunks, _ := chunked(rng, events)
	var got []string
	failed := 0
	for p, c := range chunks {
		if p == len(chunks)/3 || p == 2*len(chunks)/3 {
			srv.Kill()
			for range 3 {
				_, err := e.Process(c)
				if !errors.Is(err, seen.ErrFailed) {
					t.Fatalf("chunk %d with the server down: %v, want a failed store", p, err)
				}
				failed++
			}
			srv.Start()
		}
		// Retried as Fluent Bit does, until the store answers again (its
		// backoff is at most 5 s).
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, err := e.Process(c)
			if err == nil {
				break
			}
			if !errors.Is(err, seen.ErrFailed) || time.Now().After(deadline) {
				t.Fatalf("chunk %d after the restart: %v", p, err)
			}
			time.Sleep(100 * time.Millisecond) // Fluent Bit's retry, much shortened
		}
		if p%10 == 0 || p == len(chunks)-1 {
			drain(t, e, &got)
		}
	}
	slices.Sort(got)
	want := ids(synth.Expected(events, role, subject, 10*24*time.Hour), 0)
	if !slices.Equal(got, want) {
		t.Fatalf("after two server kills: got %d alerts, want %d\n%s", len(got), len(want), diff(got, want))
	}
	t.Logf("%d batches failed while the server was down; %d alerts", failed, len(got))
}

// conflicting is a shared store whose commits always meet a conflict.
type conflicting struct {
	seen.Shared
	commits int
}

func (c *conflicting) Commit(*seen.Commit) (seen.Committed, error) {
	c.commits++
	return seen.Committed{}, &seen.ConflictError{}
}

// A batch decides again after a conflict a bounded number of times, then
// fails (FLB_RETRY) with nothing applied.
func TestSharedConflictBound(t *testing.T) {
	srv := seentest.StartRedis(t)
	st, err := seen.OpenRedis(seen.RedisOptions{Address: srv.Addr(), KeyPrefix: "bound"})
	if err != nil {
		t.Fatal(err)
	}
	store := &conflicting{Shared: st.(seen.Shared)}
	cfg := Config{Learning: false, Prefilter: true, Rules: []string{roleRule, subjectRule}, ASNDatabase: testASN, ASNReloadInterval: -1,
		StateBackend: BackendRedis, Redis: RedisConfig{Address: srv.Addr()}}
	e, err := New(cfg, Options{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	events := synth.Stream(synth.Options{Seed: 1, Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Days: 2, Events: 200})
	var recs []Record
	for _, ev := range events {
		recs = append(recs, Record{Data: ev.JSON})
	}
	_, err = e.Process(recs)
	if !errors.Is(err, seen.ErrConflict) || store.commits != MaxConflictRetries+1 || e.Stats().Conflicts != MaxConflictRetries {
		t.Fatalf("after %d commits: %v, %d conflicts counted; want ErrConflict after %d commits", store.commits, err, e.Stats().Conflicts, MaxConflictRetries+1)
	}
	if n, _ := e.State().OutboxSize(); n != 0 {
		t.Errorf("%d alerts in the outbox after a failed batch", n)
	}
}
