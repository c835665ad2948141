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
// in the end, none the oracle does not expect. Each segment of the stream
// is appended once the alerts of those before it are all out, and the kill
// comes a seeded time after it, anywhere from tail's read to the file
// output's write: while the plugin commits, the sender waits for its ack,
// the alert sits in in_forward's buffer or chunk, or the file output
// writes it.
func TestKill(t *testing.T) {
	n := kills(t)
	eachBinary(t, false, func(t *testing.T, bin string) {
		o := newOracle(t, 1, 120, 3000)
		segs := o.segments(t, n+1)
		p := newPipeline(t, bin, options{})
		rng := rand.New(rand.NewPCG(1, uint64(n)))
		var fb *fluentBit
		for i, seg := range segs {
			fb = p.start()
			p.waitAlerts(t, "the alerts of the segments before", o, seg[0], []*fluentBit{fb})
			p.appendEvents(o, seg[0], seg[1])
			if i == len(segs)-1 {
				break
			}
			// Not synchronisation: the seeded point of the kill, from
			// before tail reads the segment to after its alerts are out.
			time.Sleep(time.Duration(rng.IntN(900)) * time.Millisecond)
			fb.kill()
		}
		p.waitAlerts(t, "every alert", o, len(o.events), []*fluentBit{fb})
		fb.stop()
		verdict(t, o.ids, p.delivered())
	})
}
