package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"syscall"
	"testing"
	"time"
)

const (
	reloads = 5
	// reloadLimit bounds one hot reload, SIGHUP to the new instance's
	// init: the old context drains its tasks first (a second or two).
	reloadLimit = 20 * time.Second
	// initLine is what the plugin logs at each init, reload or start.
	initLine = "[output:newterms] "
	initMark = " waiting from before)"
)

// reloadRun streams the oracle with a hot reload (SIGHUP) a seeded time
// after every other segment is appended, so that reloads land while
// records, alerts and acks are in flight. It fails the test if Fluent Bit
// dies, hangs in a reload or loses an alert, and returns the time each
// reload took.
func reloadRun(t *testing.T, bin string, opts options) []time.Duration {
	t.Helper()
	opts.hotReload = true
	o := newOracle(t, 2, 120, 3000)
	segs := o.segments(t, 2*reloads+2)
	p := newPipeline(t, bin, opts)
	rng := rand.New(rand.NewPCG(2, reloads))
	fb := p.start()
	procs := []*fluentBit{fb}
	waitFor(t, "the plugin's init", reloadLimit, procs, func() bool { return fb.count(initMark) == 1 })
	var took []time.Duration
	for i, seg := range segs {
		p.waitAlerts(t, "the alerts of the segments before", o, seg[0], procs)
		p.appendEvents(o, seg[0], seg[1])
		if i%2 == 0 || len(took) == reloads {
			continue
		}
		// Not synchronisation: the seeded point of the reload.
		time.Sleep(time.Duration(rng.IntN(900)) * time.Millisecond)
		begin := time.Now()
		fb.signal(syscall.SIGHUP)
		inits := len(took) + 2
		waitFor(t, fmt.Sprintf("hot reload %d", len(took)+1), reloadLimit, procs, func() bool { return fb.count(initMark) >= inits })
		took = append(took, time.Since(begin))
	}
	p.waitAlerts(t, "every alert", o, len(o.events), procs)
	fb.stop()
	verdict(t, o.ids, p.delivered())
	return took
}

// Five hot reloads during the stream, in the configuration conf/ and the
// README recommend (workers 0, forward input not threaded): Fluent Bit
// neither crashes nor hangs, each reload ends within reloadLimit, and every
// alert is delivered, none extra.
func TestHotReload(t *testing.T) {
	eachBinary(t, false, func(t *testing.T, bin string) {
		took := reloadRun(t, bin, options{})
		t.Logf("%d reloads took %v", len(took), took)
	})
}

// Which workers / threaded combinations survive five reloads, per binary.
// Slow and mostly a record of Fluent Bit's bugs (see README, "Running it
// in Fluent Bit"): run with NEWTERMS_E2E_RELOAD_MATRIX=1. Each combination
// is a subtest; the ones that crash fail, with the signal in the message.
func TestHotReloadMatrix(t *testing.T) {
	s := conformance(t)
	if os.Getenv("NEWTERMS_E2E_RELOAD_MATRIX") == "" {
		s.Skip(t, "set NEWTERMS_E2E_RELOAD_MATRIX=1 to run")
	}
	runBinaries(s, t, false, func(t *testing.T, bin string) {
		for _, workers := range []int{0, 1, 2} {
			for _, threaded := range []bool{false, true} {
				t.Run(fmt.Sprintf("workers=%d/threaded=%s", workers, onOff(threaded)), func(t *testing.T) {
					took := reloadRun(t, bin, options{workers: workers, threaded: threaded})
					t.Logf("%d reloads took %v", len(took), took)
				})
			}
		}
	})
}
