package metrics

import (
	"fmt"
	"strings"
	"time"
)

// Options are the user's settings of what is exposed (internal/config
// declares their keys).
type Options struct {
	// Listen is the address of the own Prometheus endpoint (metrics_listen,
	// see ParseListen); "": none.
	Listen string
	// SummaryInterval is how often the plugin logs a one-line summary
	// (summary_interval); 0: never.
	SummaryInterval time.Duration
}

// Summary is the one-line summary of an interval: the totals, what
// changed since prev (the snapshot of the interval's start), and the
// state of delivery.
func Summary(prev, cur *Snapshot) string {
	c, p := &cur.Engine, &prev.Engine
	var b strings.Builder
	d := func(name string, now, before int64) {
		fmt.Fprintf(&b, "%s %d (+%d), ", name, now, now-before)
	}
	d("records", c.Records, p.Records)
	d("events", c.Events, p.Events)
	d("alerts", c.Alerts, p.Alerts)
	d("suppressed while learning", c.SuppressedLearning, p.SuppressedLearning)
	bad := func(s *Snapshot) int64 {
		n := s.Unreadable + s.Engine.Panics
		for _, v := range s.Engine.ParseErrors {
			n += v
		}
		return n
	}
	d("bad", bad(cur), bad(prev))
	fmt.Fprintf(&b, "prefiltered %d, tuples checked %d, cache hits %.0f%%, ", c.Prefiltered, c.TuplesChecked, 100*c.CacheHitRatio)
	if n := c.Commits - p.Commits; n > 0 {
		mean := (c.CommitTotal - p.CommitTotal) / time.Duration(n)
		fmt.Fprintf(&b, "commits %d (+%d, mean %s), ", c.Commits, n, round(mean))
	} else {
		fmt.Fprintf(&b, "commits %d (+0), ", c.Commits)
	}
	fmt.Fprintf(&b, "outbox %d", c.OutboxAlerts)
	if !c.OutboxOldest.IsZero() {
		fmt.Fprintf(&b, " (oldest %s)", round(cur.At.Sub(c.OutboxOldest)))
	}
	fmt.Fprintf(&b, ", delivered %d (+%d)", cur.Forward.Delivered, cur.Forward.Delivered-prev.Forward.Delivered)
	if f := cur.Forward.Failures - prev.Forward.Failures; f > 0 || cur.Forward.Failing {
		fmt.Fprintf(&b, ", delivery failures +%d", f)
		if cur.Forward.Failing {
			b.WriteString(" (failing)")
		}
	}
	if f := cur.CommitFailures - prev.CommitFailures; f > 0 {
		fmt.Fprintf(&b, ", failed commits +%d", f)
	}
	return b.String()
}

// round shortens a duration for people: 1.234567ms is 1.23ms, 83.4s is 1m23s.
func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second)
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}
