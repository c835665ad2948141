package e2e

import (
	"testing"
	"time"
)

// outage is how long the receiver stays down.
const outage = 30 * time.Second

// The Fluent Bit that receives the alerts is down for 30 s in the middle
// of the stream, then restarted on its storage: no alert is lost. Two
// topologies: the plugin delivers straight to the receiver's forward input
// (its outbox holds the alerts, the sender retries with backoff), or it
// delivers into its own Fluent Bit, whose out_forward sends them on (Fluent
// Bit's chunks hold them, its scheduler retries: Retry_Limit no_limits).
// Runs in parallel: the waits are idle.
func TestReceiverDown(t *testing.T) {
	for _, c := range []struct {
		name       string
		outForward bool
	}{
		{"plugin-to-receiver", false},
		{"out_forward-to-receiver", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			eachBinary(t, true, func(t *testing.T, bin string) {
				o := newOracle(t, 3, 120, 3000)
				segs := o.segments(t, 3)
				recv := newPipeline(t, bin, options{receiver: true})
				opts := options{forwardTo: recv.sock()}
				if c.outForward {
					opts = options{outForward: recv.sock()}
				}
				src := newPipeline(t, bin, opts)
				rfb := recv.start()
				waitFor(t, "the receiver's socket", alertLimit, []*fluentBit{rfb}, func() bool { return exists(recv.sock()) })
				sfb := src.start()
				procs := []*fluentBit{rfb, sfb}

				src.appendEvents(o, segs[0][0], segs[0][1])
				recv.waitAlerts(t, "the alerts before the outage", o, segs[0][1], procs)
				rfb.stop()
				down := time.Now()
				// The alerts of the second segment come while the
				// receiver is down.
				src.appendEvents(o, segs[1][0], segs[1][1])
				waitFor(t, "the end of the outage", outage+alertLimit, []*fluentBit{sfb}, func() bool { return time.Since(down) >= outage })
				rfb = recv.start()
				procs = []*fluentBit{rfb, sfb}
				src.appendEvents(o, segs[2][0], segs[2][1])
				recv.waitAlerts(t, "every alert", o, len(o.events), procs)
				t.Logf("all delivered %s after the receiver's restart", time.Since(down)-outage)
				sfb.stop()
				rfb.stop()
				verdict(t, o.ids, recv.delivered())
			})
		})
	}
}
