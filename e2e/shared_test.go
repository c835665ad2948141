package e2e

import (
	"testing"

	"github.com/newterms/newterms/internal/seen/seentest"
)

// Two Fluent Bit processes on one Redis, each tailing half of the stream
// (its segments in turn, so that the stream keeps its order): a tuple one
// node saw is known to the other, and the alerts are the oracle's, each
// delivered once, by whichever node holds the shared outbox's lease.
func TestSharedNodes(t *testing.T) {
	srv := seentest.StartRedis(t)
	eachBinary(t, true, func(t *testing.T, bin string) {
		o := newOracle(t, 5, 24, 3000)
		segs := o.segments(t, 6)
		opts := options{redis: srv.Addr(), redisPrefix: seentest.Prefix(t.Name())}
		nodes := []*pipeline{newPipeline(t, bin, opts), newPipeline(t, bin, opts)}
		procs := []*fluentBit{nodes[0].start(), nodes[1].start()}
		delivered := func() map[string]int {
			got := nodes[0].delivered()
			for id, n := range nodes[1].delivered() {
				got[id] += n
			}
			return got
		}
		for i, s := range segs {
			nodes[i%2].appendEvents(o, s[0], s[1])
			ids := o.before(s[1])
			waitFor(t, "the alerts of segment "+string(rune('1'+i)), alertLimit, procs, func() bool { return has(delivered(), ids) })
		}
		for _, fb := range procs {
			fb.stop()
		}
		got := delivered()
		verdict(t, o.ids, got)
		per := []map[string]int{nodes[0].delivered(), nodes[1].delivered()}
		t.Logf("delivered by the first node %d, by the second %d", len(per[0]), len(per[1]))
		for id, n := range got {
			if n != 1 {
				t.Errorf("alert %s delivered %d times", id, n)
			}
		}
	})
}
