package seen

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/dgraph-io/ristretto/v2"
)

// The hot cache is ristretto, but its entries are buckets of tuple
// records, not single tuples: ristretto's own bookkeeping takes some 233
// bytes an entry (its map, its cost and frequency tables), ten times a
// tuple's record, so one entry per tuple held some 290,000 tuples in 64
// MiB. A bucket holds up to bucketSlots records of recSize bytes, sorted,
// and is costed to ristretto at its real size, so the same bytes hold
// about eight times the tuples.
//
// Identity: a record carries the tuple's whole cache identity, the 64-bit
// fold of the rule hash and the tuple hash's low half (cacheFold) and the
// tuple hash's high half, as the one-entry cache keyed and checked before
// it: a novel tuple is taken for a cached one only when those 128 bits
// collide, as likely as two tuples colliding in the store's 128-bit tuple
// hash. Which bucket a record lives in is derived from the fold and
// narrows nothing.
//
// Consistency: bucket contents are read and changed only under the
// state's mu (batches, expiry), in place. A bucket object enters
// ristretto once, at a commit, after a Del of its key, so that no older
// object of that key still queued in ristretto's set buffer can land
// after it; until then a batch keeps the buckets it creates to itself
// (Batch.local). ristretto may refuse or evict a bucket at any time: that
// loses its records, which costs store reads, never a wrong decision,
// since a record is only ever absent or current.
//
// Within a full bucket, a new record replaces one chosen by a clock
// (second chance): a record answered from the cache since the hand last
// passed it is kept.
const (
	recSize = 28 // fold 8, high half 8, last_seen 6, first_seen 6 (bit 47: referenced)
	// bucketSlots is the most records a bucket holds: 4,088 bytes, one
	// 4 KiB allocation.
	bucketSlots = 146
	// bucketOverhead is the memory of one bucket beyond its records:
	// ristretto's entry (measured, see cacheEntryCost before buckets: 233)
	// and the bucket with its slice header.
	bucketOverhead = 233 + 48
	// times outside ±2^46 ms (±2,230 years) are not cached
	timeLimit = 1 << 46
	refBit    = 1 << 47
)

// bucket holds records sorted by fold, then high half, big-endian.
type bucket struct {
	recs  []byte
	hand  int // clock hand: a record index
	slots int // records at most
}

// tupleCache is the hot cache: buckets in ristretto.
type tupleCache struct {
	c       *ristretto.Cache[uint64, *bucket]
	buckets uint64 // number of bucket keys
	slots   int    // records a bucket holds at most
}

// newTupleCache sizes the buckets so that all of them, full, take
// size bytes: ristretto then bounds the memory, and decides which buckets
// stay when the records' real sizes run over. A small cache keeps at
// least 16 buckets (fewer records in each).
func newTupleCache(size int64) (*tupleCache, error) {
	slots := int(min(max((size/16-bucketOverhead)/recSize, 4), bucketSlots))
	n := max(size/(bucketOverhead+int64(slots)*recSize), 1)
	c, err := ristretto.NewCache(&ristretto.Config[uint64, *bucket]{
		NumCounters:        n * 10,
		MaxCost:            size,
		BufferItems:        64,
		IgnoreInternalCost: true,
	})
	if err != nil {
		return nil, fmt.Errorf("state cache: %w", err)
	}
	return &tupleCache{c: c, buckets: uint64(n), slots: slots}, nil
}

// cacheFold folds the rule hash and the tuple hash's low half.
func cacheFold(k entryKey) uint64 {
	return bytesToU64(k[1:9])*0x9E3779B97F4A7C15 ^ bytesToU64(k[17:25])
}

// key is the bucket of a fold (multiply-shift onto [0, buckets)).
func (t *tupleCache) key(fold uint64) uint64 {
	hi, _ := bits.Mul64(fold, t.buckets)
	return hi
}

func (t *tupleCache) newBucket() *bucket {
	return &bucket{slots: t.slots}
}

// cost is the bucket's real size.
func (bk *bucket) cost() int64 { return bucketOverhead + int64(cap(bk.recs)) }

// find returns the index of the record of (fold, hi), or where it would go.
func (bk *bucket) find(fold, hi uint64) (int, bool) {
	lo, n := 0, len(bk.recs)/recSize
	for lo < n {
		m := int(uint(lo+n) >> 1)
		r := bk.recs[m*recSize:]
		f, h := binary.BigEndian.Uint64(r), binary.BigEndian.Uint64(r[8:])
		if f < fold || f == fold && h < hi {
			lo = m + 1
		} else {
			n = m
		}
	}
	if i := lo * recSize; i < len(bk.recs) {
		r := bk.recs[i:]
		return lo, binary.BigEndian.Uint64(r) == fold && binary.BigEndian.Uint64(r[8:]) == hi
	}
	return lo, false
}

// get answers a tuple's stored times, and marks its record referenced.
func (bk *bucket) get(fold, hi uint64) (first, last int64, ok bool) {
	i, ok := bk.find(fold, hi)
	if !ok {
		return 0, 0, false
	}
	r := bk.recs[i*recSize:]
	f := get48(r[22:])
	if f&refBit == 0 {
		put48(r[22:], f|refBit)
	}
	return signed47(f), signed48(get48(r[16:])), true
}

// put records a tuple's times; it reports whether the bucket grew. Times
// it cannot hold remove the tuple's record instead: an absent record only
// costs a store read.
func (bk *bucket) put(fold, hi uint64, first, last int64) (grew bool) {
	i, found := bk.find(fold, hi)
	if first <= -timeLimit || first >= timeLimit || last <= -timeLimit || last >= timeLimit {
		if found {
			bk.remove(i)
		}
		return false
	}
	if !found {
		if len(bk.recs)/recSize >= bk.slots {
			v := bk.victim()
			bk.remove(v)
			if v < i {
				i--
			}
		}
		if n := len(bk.recs); n == cap(bk.recs) {
			// Exact sizes, doubling, up to the slots: the cost is the cap.
			recs := make([]byte, n, min(max(2*n, 4*recSize), bk.slots*recSize))
			copy(recs, bk.recs)
			bk.recs, grew = recs, true
		}
		bk.recs = bk.recs[:len(bk.recs)+recSize]
		copy(bk.recs[(i+1)*recSize:], bk.recs[i*recSize:])
		r := bk.recs[i*recSize:]
		binary.BigEndian.PutUint64(r, fold)
		binary.BigEndian.PutUint64(r[8:], hi)
	}
	r := bk.recs[i*recSize:]
	ref := get48(r[22:]) & refBit
	if !found {
		ref = 0
	}
	put48(r[16:], uint64(last))
	put48(r[22:], uint64(first)&(refBit-1)|ref)
	return grew
}

// del removes a tuple's record, if the bucket holds it.
func (bk *bucket) del(fold, hi uint64) {
	if i, ok := bk.find(fold, hi); ok {
		bk.remove(i)
	}
}

func (bk *bucket) remove(i int) {
	copy(bk.recs[i*recSize:], bk.recs[(i+1)*recSize:])
	bk.recs = bk.recs[:len(bk.recs)-recSize]
	if bk.hand > i {
		bk.hand--
	}
}

// victim runs the clock: the first record from the hand not referenced
// since the hand last passed it (clearing the marks it passes).
func (bk *bucket) victim() int {
	n := len(bk.recs) / recSize
	for {
		if bk.hand >= n {
			bk.hand = 0
		}
		r := bk.recs[bk.hand*recSize+22:]
		f := get48(r)
		if f&refBit == 0 {
			return bk.hand
		}
		put48(r, f&^refBit)
		bk.hand++
	}
}

func get48(b []byte) uint64 {
	_ = b[5]
	return uint64(b[0])<<40 | uint64(b[1])<<32 | uint64(b[2])<<24 | uint64(b[3])<<16 | uint64(b[4])<<8 | uint64(b[5])
}

func put48(b []byte, v uint64) {
	_ = b[5]
	b[0], b[1], b[2], b[3], b[4], b[5] = byte(v>>40), byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}

func signed48(v uint64) int64 { return int64(v<<16) >> 16 }
func signed47(v uint64) int64 { return int64(v<<17) >> 17 }

// cacheGet answers a tuple's stored times from the batch's new buckets
// or the cache.
func (b *Batch) cacheGet(k entryKey) (first, last int64, ok bool) {
	t := b.s.cache
	fold, hi := cacheFold(k), bytesToU64(k[9:17])
	key := t.key(fold)
	bk, ok := b.local[key]
	if !ok {
		if bk, ok = t.c.Get(key); !ok {
			return 0, 0, false
		}
	}
	return bk.get(fold, hi)
}

// cachePut records a tuple's current stored times: in the bucket the
// cache holds (in place), or in a new one of the batch's, which its
// commit offers to the cache.
func (b *Batch) cachePut(k entryKey, first, last int64) {
	t := b.s.cache
	fold, hi := cacheFold(k), bytesToU64(k[9:17])
	key := t.key(fold)
	if bk, ok := b.local[key]; ok {
		bk.put(fold, hi, first, last)
		return
	}
	if bk, ok := t.c.Get(key); ok {
		if bk.put(fold, hi, first, last) {
			t.c.Set(key, bk, bk.cost()) // the same bucket: its new cost
		}
		return
	}
	bk := t.newBucket()
	bk.put(fold, hi, first, last)
	if b.local == nil {
		b.local = map[uint64]*bucket{}
	}
	b.local[key] = bk
}

// offerLocal hands the batch's new buckets to the cache, each after a Del
// of its key (see the consistency note above), and waits until ristretto
// has applied them, so that the next batch finds them or nothing.
func (b *Batch) offerLocal() {
	c := b.s.cache.c
	for key, bk := range b.local {
		c.Del(key)
		c.Set(key, bk, bk.cost())
	}
	b.local = nil
	c.Wait()
}

// forget removes tuples' records from the cache (their stored records
// changed elsewhere or were deleted). Under mu, with no batch running.
func (s *State) forget(keys [][]byte) {
	for _, k := range keys {
		var ek entryKey
		if len(k) == len(ek) {
			copy(ek[:], k)
			s.forgetKey(ek)
		}
	}
}

func (s *State) forgetKey(k entryKey) {
	t := s.cache
	fold := cacheFold(k)
	if bk, ok := t.c.Get(t.key(fold)); ok {
		bk.del(fold, bytesToU64(k[9:17]))
	}
}

// CacheStats are the hot cache's contents.
type CacheStats struct {
	Buckets, Tuples, Bytes int64
}

// CacheStats counts the cache's buckets, tuple records and their cost
// (benchmarks). It takes the batch lock.
func (s *State) CacheStats() CacheStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.cache
	t.c.Wait()
	var st CacheStats
	for key := range t.buckets {
		if bk, ok := t.c.Get(key); ok {
			st.Buckets++
			st.Tuples += int64(len(bk.recs) / recSize)
			st.Bytes += bk.cost()
		}
	}
	return st
}
