package seentest

import (
	"sync"
	"testing"

	"github.com/newterms/newterms/internal/seen"
	"github.com/newterms/newterms/internal/testsupport"
)

// Backend is a seen.Store implementation under the conformance suite.
type Backend struct {
	// Name names the backend's subtest ("pebble", "mem", "redis").
	Name string
	// Open opens the store kept under dir, a directory of the case's own
	// (from t.TempDir): empty the first time, holding what was committed
	// when opened again after Close. A backend that keeps no files (a
	// server) keys its data by dir. Open fails the test when it cannot.
	Open func(t testing.TB, dir string) seen.Store
	// Restart, when set, runs between a Close and the next Open of dir:
	// what a restart of the process, or of the backend's server, does
	// beyond Close. nil: nothing.
	Restart func(t testing.TB, dir string)
	// NoHold: the state refuses a reorder window (max_lateness) over this
	// backend (a shared one: held events live in one process); the hold
	// cases then check that opening with one fails.
	NoHold bool
}

// testCase is one case of the suite, run as a subtest of the backend.
type testCase struct {
	name string
	run  func(e *env)
}

// cases lists the suite: stores directly, then the seen state over them.
func cases() []testCase {
	var all []testCase
	all = append(all, storeCases()...)
	all = append(all, noveltyCases()...)
	all = append(all, batchCases()...)
	all = append(all, outboxCases()...)
	all = append(all, expiryCases()...)
	all = append(all, holdCases()...)
	all = append(all, concurrentCases()...)
	all = append(all, modelCases()...)
	return all
}

// Run runs every case of the suite against b, each as the subtest
// b.Name/case, and returns how many it ran.
func Run(t *testing.T, b Backend) int {
	t.Helper()
	cs := cases()
	t.Run(b.Name, func(t *testing.T) {
		suite := testsupport.Conformance(t, "seen/"+b.Name)
		for _, c := range cs {
			t.Run(c.name, func(t *testing.T) {
				suite.Case(t)
				e := &env{t: t, b: b, dir: t.TempDir()}
				t.Cleanup(e.cleanup)
				c.run(e)
			})
		}
	})
	return len(cs)
}

// MemBackend is the suite's backend of Mem stores, one per directory. Its
// Restart reopens the directory's data (Mem.Reopen, which requires the
// store closed), and its Open refuses to hand the store out again until
// then: the suite's restarts go through the hook a server backend needs.
func MemBackend() Backend {
	var mu sync.Mutex
	stores := map[string]*Mem{}
	given := map[string]bool{} // handed out by Open since the last Restart
	return Backend{
		Name: "mem",
		Open: func(t testing.TB, dir string) seen.Store {
			mu.Lock()
			defer mu.Unlock()
			if given[dir] {
				t.Fatalf("seentest: %s opened again without Close and Restart", dir)
			}
			if stores[dir] == nil {
				stores[dir] = NewMem()
			}
			given[dir] = true
			return stores[dir]
		},
		Restart: func(t testing.TB, dir string) {
			mu.Lock()
			defer mu.Unlock()
			m, err := stores[dir].Reopen()
			if err != nil {
				t.Fatal(err)
			}
			stores[dir], given[dir] = m, false
		},
	}
}

// env is one case's backend and directory, and the state or store open
// on it.
type env struct {
	t     *testing.T
	b     Backend
	dir   string
	opts  seen.Options // of the open state
	state *seen.State  // open, or nil
	store seen.Store   // under state, or opened alone; nil when closed
}

// openStore opens the store alone.
func (e *env) openStore() seen.Store {
	e.t.Helper()
	e.store = e.b.Open(e.t, e.dir)
	return e.store
}

// restartStore closes the store opened alone and opens it again.
func (e *env) restartStore() seen.Store {
	e.t.Helper()
	if err := e.store.Close(); err != nil {
		e.t.Fatalf("close: %v", err)
	}
	e.store = nil
	if e.b.Restart != nil {
		e.b.Restart(e.t, e.dir)
	}
	return e.openStore()
}

// open opens the state over the backend with opts (their Store is set
// here; no background compaction unless asked; a 1 MiB cache unless
// asked: decisions never depend on it, and a large one costs each open
// more than a case's checks).
func (e *env) open(opts seen.Options) *seen.State {
	e.t.Helper()
	if opts.CompactInterval == 0 {
		opts.CompactInterval = -1
	}
	if opts.CacheSize == 0 {
		opts.CacheSize = 1 << 20
	}
	e.opts = opts
	opts.Store = e.openStore()
	s, err := seen.Open(opts)
	if err != nil {
		e.store = nil // Open closed it
		e.t.Fatalf("open: %v", err)
	}
	e.state = s
	return s
}

// restart closes the state and opens it again with the same options.
func (e *env) restart() *seen.State {
	e.t.Helper()
	e.closeState()
	if e.b.Restart != nil {
		e.b.Restart(e.t, e.dir)
	}
	return e.open(e.opts)
}

func (e *env) closeState() {
	e.t.Helper()
	err := e.state.Close()
	e.state, e.store = nil, nil
	if err != nil {
		e.t.Fatalf("close: %v", err)
	}
}

// cleanup closes what a case left open (one that failed half-way).
func (e *env) cleanup() {
	switch {
	case e.state != nil:
		e.state.Close()
	case e.store != nil:
		e.store.Close()
	}
}

// contents is everything the store holds, key to value.
func contents(t testing.TB, st seen.Store) map[string]string {
	t.Helper()
	m := map[string]string{}
	if err := st.Scan(nil, func(k, v []byte) bool { m[string(k)] = string(v); return true }); err != nil {
		t.Fatal(err)
	}
	return m
}
