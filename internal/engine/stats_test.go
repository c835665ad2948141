package engine

import (
	"testing"
	"time"

	"github.com/newterms/newterms/internal/synth"
)

// Stats carries what a user graphs beyond the batch counters: the commit
// latency by bucket, the cache's hits and reads, the outbox's oldest
// alert, the state's size, the rules and the ASN database in service.
func TestStatsGauges(t *testing.T) {
	events := synth.Stream(synth.Options{Seed: 1, Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Days: 24, Events: 2000})
	e := newEngine(t, t.TempDir(), false, nil)
	defer e.Close()
	before := time.Now()
	for i := 0; i < len(events); i += 250 {
		var batch []Record
		for _, ev := range events[i:min(i+250, len(events))] {
			batch = append(batch, Record{Data: ev.JSON})
		}
		if _, err := e.Process(batch); err != nil {
			t.Fatal(err)
		}
	}
	c := e.Stats()
	var inBuckets int64
	for _, n := range c.CommitLatency {
		inBuckets += n
	}
	switch {
	case c.Commits == 0 || inBuckets != c.Commits:
		t.Errorf("%d commits, %d in the latency buckets", c.Commits, inBuckets)
	case c.CommitTotal < c.CommitMax || c.CommitMean != c.CommitTotal/time.Duration(c.Commits):
		t.Errorf("commit total %v, max %v, mean %v", c.CommitTotal, c.CommitMax, c.CommitMean)
	case c.CacheHits+c.StoreReads == 0 || c.CacheHitRatio != float64(c.CacheHits)/float64(c.CacheHits+c.StoreReads):
		t.Errorf("cache hits %d, store reads %d, ratio %v", c.CacheHits, c.StoreReads, c.CacheHitRatio)
	case c.Rules != 2:
		t.Errorf("%d rules", c.Rules)
	case c.ASN.Schema == "" || c.ASN.BuildTime.IsZero() || c.ASN.Reloads != 0:
		t.Errorf("asn %+v", c.ASN)
	case c.StateBytes <= 0:
		t.Errorf("state size %d", c.StateBytes)
	case c.Alerts == 0 || c.OutboxAlerts != c.Alerts:
		t.Errorf("%d alerts, %d in the outbox", c.Alerts, c.OutboxAlerts)
	case c.OutboxOldest.Before(before) || c.OutboxOldest.After(time.Now()):
		t.Errorf("oldest alert committed at %v, the batches ran from %v", c.OutboxOldest, before)
	}
	var got []string
	drain(t, e, &got)
	if c := e.Stats(); c.OutboxAlerts != 0 || !c.OutboxOldest.IsZero() {
		t.Errorf("after draining: %d alerts, oldest %v", c.OutboxAlerts, c.OutboxOldest)
	}
}

// Each commit lands in the first bucket whose bound it does not exceed.
func TestCommitBuckets(t *testing.T) {
	var s stats
	for _, d := range []time.Duration{0, CommitBuckets[0], CommitBuckets[0] + 1, CommitBuckets[len(CommitBuckets)-1] + 1, time.Hour} {
		s.commit(d)
	}
	want := map[int]int64{0: 2, 1: 1, len(CommitBuckets): 2}
	for i := range s.commitBuckets {
		if got := s.commitBuckets[i].Load(); got != want[i] {
			t.Errorf("bucket %d: %d, want %d", i, got, want[i])
		}
	}
}
