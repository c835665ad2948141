package main

import (
	"errors"
	"math"
	"os"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/newterms/newterms/internal/config"
	"github.com/newterms/newterms/internal/engine"
	"github.com/newterms/newterms/internal/flb/flbtest"
	"github.com/newterms/newterms/internal/forward"
	"github.com/newterms/newterms/internal/seen"
	"github.com/newterms/newterms/internal/seen/seentest"
	"github.com/newterms/newterms/internal/synth"
)

// newInstance is a plugin instance in this process, on an in-memory store,
// whose sender has nowhere to deliver.
func newInstance(t *testing.T, store seen.Store, mod func(*engine.Config)) *instance {
	t.Helper()
	cfg := config.Default(config.Plugin)
	cfg.Engine.ASNDatabase = "../testdata/asn/GeoLite2-ASN-Test.mmdb"
	cfg.Engine.ASNReloadInterval = -1
	cfg.Engine.StateDir = t.TempDir()
	mod(&cfg.Engine)
	eng, err := engine.New(cfg.Engine, engine.Options{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	snd, err := forward.New(eng.State(), forward.Options{Address: "unix:///nonexistent.sock"})
	if err != nil {
		t.Fatal(err)
	}
	return &instance{cfg: cfg, eng: eng, sender: snd}
}

// A commit that fails returns FLB_RETRY, with nothing committed; the same
// chunk then succeeds.
func TestFlushRetry(t *testing.T) {
	store := seentest.NewMem()
	in := newInstance(t, store, func(cfg *engine.Config) {
		cfg.Rules = []string{roleRule, subjectRule}
		cfg.Learning = false
	})
	eng := in.eng
	var chunk []byte
	for _, ev := range synth.Stream(synth.Options{Seed: 9, Start: start, Days: 1, Events: 300}) {
		chunk = flbtest.AppendRecord(chunk, true, ev.Time, [2]string{"log", string(ev.JSON)})
	}
	store.FailApply(errors.New("disk full"))
	if rc := in.flush(chunk); rc != 2 {
		t.Fatalf("failing commit: rc %d, want FLB_RETRY (2)", rc)
	}
	if n, _ := eng.State().OutboxSize(); n != 0 {
		t.Fatalf("outbox holds %d after a failed commit", n)
	}
	store.FailApply(nil)
	if rc := in.flush(chunk); rc != 1 {
		t.Fatalf("retry: rc %d", rc)
	}
	if n, _ := eng.State().OutboxSize(); n == 0 {
		t.Error("the retried chunk made no alerts")
	}
	if rc := in.flush([]byte("\xc1garbage")); rc != 0 {
		t.Errorf("garbage: rc %d, want FLB_ERROR (0)", rc)
	}
}

// A panic inside an export becomes FLB_ERROR.
func TestGuard(t *testing.T) {
	rc := func() (rc int) {
		defer guard(nil, "test", &rc)
		panic("boom")
	}()
	if rc != 0 {
		t.Errorf("rc %d", rc)
	}
}

// From chunk to verdict, a record that no rule can match costs no heap
// allocation, and one that matches a bounded few: a flush's allocations
// grow with the matching records only.
func TestFlushAllocations(t *testing.T) {
	in := newInstance(t, seentest.NewMem(), func(cfg *engine.Config) {
		cfg.Rules = []string{"../conf/rules"}
		cfg.RecordKeys = []string{"log"}
	})
	var other, match []string
	for _, ev := range synth.Stream(synth.Options{Seed: 4, Start: start, Days: 2, Events: 2000}) {
		switch {
		case ev.Action == "AssumeRoleWithWebIdentity" && ev.Success:
			match = append(match, string(ev.JSON))
		case !strings.HasPrefix(ev.Action, "AssumeRole") && ev.Action != "ConsoleLogin":
			other = append(other, string(ev.JSON))
		}
	}
	chunk := func(n int, recs []string) []byte {
		var c []byte
		for i := range n {
			c = flbtest.AppendRecord(c, true, start, [2]string{"log", recs[i%len(recs)]})
		}
		return c
	}
	allocs := func(c []byte) float64 {
		in.flush(c) // the state has seen these tuples: later flushes write nothing
		return testing.AllocsPerRun(20, func() {
			if rc := in.flush(c); rc != 1 {
				t.Fatalf("rc %d", rc)
			}
		})
	}
	// A few allocations of slack: under -race sync.Pool drops pooled
	// workers at random, and a new one allocates.
	small, large := allocs(chunk(100, other)), allocs(chunk(1000, other))
	if large > small+5 {
		t.Errorf("a flush of 1,000 non-matching records allocates %.0f times, of 100 %.0f: records allocate", large, small)
	}
	per := (allocs(chunk(1000, match)) - large) / 1000
	if per > 4 {
		t.Errorf("%.1f allocations per matching record, want at most 4", per)
	}
	t.Logf("non-matching: %.0f allocations per flush, whatever its size; matching: %.2f per record", large, per)
}

// Instances give their heap share back at exit: with hot reloads, one
// process sees many inits and exits, and the limit must not grow with them.
func TestHeapShares(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	t.Setenv("GOMEMLIMIT", "")
	os.Unsetenv("GOMEMLIMIT")
	share := seen.HeapShare(0)
	for reload := range 5 {
		reserveHeap(share)
		reserveHeap(2 * share)
		if got := debug.SetMemoryLimit(-1); got != 3*share {
			t.Fatalf("reload %d: limit %d with two instances, want %d", reload, got, 3*share)
		}
		reserveHeap(-share)
		reserveHeap(-2 * share)
		if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
			t.Fatalf("reload %d: limit %d with no instance, want none", reload, got)
		}
	}
	t.Setenv("GOMEMLIMIT", "1GiB")
	reserveHeap(share)
	defer heapShares.Add(-share)
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("with GOMEMLIMIT set: limit %d, want it left alone", got)
	}
}
