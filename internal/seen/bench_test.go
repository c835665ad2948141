package seen

import (
	"strconv"
	"testing"
	"time"
)

var benchRule = Rule{Key: "bench:1", Name: "bench", Window: 10 * 24 * time.Hour}

// warm makes sure a tuple is in the cache: ristretto may refuse a Set.
func warm(b *testing.B, s *State, tuple []string) {
	th, _ := tupleHash(nil, tuple)
	k := makeEntryKey(ruleHash(benchRule.Key), th)
	for range 1000 {
		batch := s.Begin(false)
		batch.cachePut(k, t0.UnixMilli(), t0.UnixMilli())
		batch.offerLocal()
		_, _, ok := batch.cacheGet(k)
		batch.Abort()
		if ok {
			return
		}
	}
	b.Fatal("the cache never admitted the tuple")
}

// BenchmarkCheck: a hot tuple (in the cache), with its parts; a cold one
// (in the store, not the cache); a new one (in neither: the bloom filters
// answer).
func BenchmarkCheck(b *testing.B) {
	tuple := []string{"arn:aws:iam::111122223333:role/payments-api", "16509"}
	s := openT(b, b.TempDir(), func(o *Options) { o.NoLearning = true })
	defer s.Close()
	check(b, s, benchRule, tuple, t0, false)
	b.Run("hot", func(b *testing.B) {
		warm(b, s, tuple)
		batch := s.Begin(false)
		defer batch.Abort()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := batch.Check(benchRule, tuple, t0, "e"); err != nil {
				b.Fatal(err)
			}
		}
		if batch.Counters.StoreReads > 1 {
			b.Fatalf("%d store reads", batch.Counters.StoreReads)
		}
	})
	b.Run("hot/window", func(b *testing.B) { // max_lateness on, nothing held for the tuple
		s := openT(b, b.TempDir(), func(o *Options) { o.NoLearning, o.MaxLateness = true, 5*time.Minute })
		defer s.Close()
		check(b, s, benchRule, []string{"other"}, t0.Add(time.Hour), true) // held (learn-only: no alert document)
		check(b, s, benchRule, tuple, t0.Add(-time.Hour), false)           // late: novel at once
		warm(b, s, tuple)
		batch := s.Begin(false)
		defer batch.Abort()
		b.ReportAllocs()
		for b.Loop() {
			if d, err := batch.Check(benchRule, tuple, t0, "e"); err != nil || d != Known {
				b.Fatal(d, err)
			}
		}
	})
	b.Run("hot/hash", func(b *testing.B) {
		var buf []byte
		b.ReportAllocs()
		for b.Loop() {
			_, buf = tupleHash(buf, tuple)
			ruleHash(benchRule.Key)
		}
	})
	b.Run("hot/cache-get", func(b *testing.B) {
		th, _ := tupleHash(nil, tuple)
		k := makeEntryKey(ruleHash(benchRule.Key), th)
		warm(b, s, tuple)
		batch := s.Begin(false)
		defer batch.Abort()
		b.ReportAllocs()
		for b.Loop() {
			batch.cacheGet(k)
		}
	})
	b.Run("cold", func(b *testing.B) {
		batch := s.Begin(false)
		defer batch.Abort()
		th, _ := tupleHash(nil, tuple)
		k := makeEntryKey(ruleHash(benchRule.Key), th)
		b.ReportAllocs()
		for b.Loop() {
			s.forgetKey(k)
			if _, err := batch.Check(benchRule, tuple, t0, "e"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("new", func(b *testing.B) {
		batch := s.Begin(false)
		defer batch.Abort()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			batch.Check(benchRule, []string{"new", strconv.Itoa(i)}, t0, "e")
			if len(batch.pending) > 4096 { // keep the batch small
				clear(batch.pending)
				batch.order = batch.order[:0]
			}
		}
	})
}
