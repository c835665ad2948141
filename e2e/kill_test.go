package e2e

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

// killsDefault is how many SIGKILLs TestKill deals each binary: the
// issue's target; each costs a restart, about a second (some 25 s a
// binary). NEWTERMS_E2E_KILLS sets another number.
const killsDefault = 20

func kills(t *testing.T) int {
	t.Helper()
	v := os.Getenv("NEWTERMS_E2E_KILLS")
	if v == "" {
		return killsDefault
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 30 {
		t.Fatalf("NEWTERMS_E2E_KILLS=%q: want 1 to 30", v)
	}
	return n
}

// SIGKILL of Fluent Bit in the middle of the stream, again and again, each
// time restarted on the same storage and state: every alert is delivered
// in the end, none the oracle does not expect. Each run gets two segments
// of the stream, the second a seeded time after the first, and the kill a
// seeded time after that: anywhere from tail's read to the file output's
// write, while the plugin commits, the sender waits for an ack, alerts sit
// in in_forward's buffer or chunk, or the file output writes them, and
// while the second segment's commit makes the first one's deletions from
// the outbox durable. The next run appends only once the alerts of all
// before are out, so that restarts never reorder the stream.
func TestKill(t *testing.T) {
	n := kills(t)
	eachBinary(t, false, func(t *testing.T, bin string) {
		o := newOracle(t, 1, 120, 6000)
		segs := o.segments(t, 2*n+1)
		p := newPipeline(t, bin, options{})
		rng := rand.New(rand.NewPCG(1, uint64(n)))
		var fb *fluentBit
		for run := 0; ; run++ {
			fb = p.start()
			// Kills land mid-stream, not in the plugin's init: the log
			// is shared by the runs, one init line each.
			waitFor(t, "the plugin's init", alertLimit, []*fluentBit{fb}, func() bool { return fb.count(initMark) > run })
			first := segs[2*run]
			p.waitAlerts(t, "the alerts of the segments before", o, first[0], []*fluentBit{fb})
			p.appendEvents(o, first[0], first[1])
			if run == n {
				break
			}
			// Not synchronisation: the seeded points of the second
			// segment and of the kill.
			time.Sleep(time.Duration(rng.IntN(600)) * time.Millisecond)
			second := segs[2*run+1]
			p.appendEvents(o, second[0], second[1])
			time.Sleep(time.Duration(rng.IntN(600)) * time.Millisecond)
			fb.kill()
		}
		p.waitAlerts(t, "every alert", o, len(o.events), []*fluentBit{fb})
		fb.stop()
		verdict(t, o.ids, p.delivered())
	})
}
