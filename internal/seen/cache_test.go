package seen

import (
	"math/rand/v2"
	"testing"
)

// TestBucket: a bucket against a map of what it was told, with few slots
// so that the clock evicts: every answer is absent or current, records
// stay sorted, referenced records survive a pass of the hand, and times
// it cannot hold are never answered.
func TestBucket(t *testing.T) {
	cases := []struct {
		name  string
		slots int
		keys  int
	}{
		{"roomy", 64, 40},
		{"evicting", 4, 40},
		{"one slot", 1, 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(c.slots), uint64(c.keys)))
			bk := &bucket{slots: c.slots}
			want := map[[2]uint64][2]int64{}
			key := func() [2]uint64 {
				i := uint64(rng.IntN(c.keys))
				return [2]uint64{i % 3 << 62, i} // equal folds, different halves too
			}
			for range 5000 {
				k := key()
				switch rng.IntN(4) {
				case 0, 1:
					first := rng.Int64N(2<<46) - 1<<46
					last := first + rng.Int64N(1<<40)
					bk.put(k[0], k[1], first, last)
					if last >= timeLimit || first <= -timeLimit {
						delete(want, k)
					} else {
						want[k] = [2]int64{first, last}
					}
				case 2:
					bk.del(k[0], k[1])
					delete(want, k)
				default:
					first, last, ok := bk.get(k[0], k[1])
					w, held := want[k]
					if ok && (!held || w != [2]int64{first, last}) {
						t.Fatalf("%x: got %d,%d, want %v (held %v)", k, first, last, w, held)
					}
				}
				n := len(bk.recs) / recSize
				if n > c.slots {
					t.Fatalf("%d records in %d slots", n, c.slots)
				}
				for i := 1; i < n; i++ {
					a, b := bk.recs[(i-1)*recSize:i*recSize], bk.recs[i*recSize:(i+1)*recSize]
					if string(a[:16]) >= string(b[:16]) {
						t.Fatalf("records %d and %d out of order", i-1, i)
					}
				}
			}
			if c.slots >= c.keys {
				for k, w := range want {
					if first, last, ok := bk.get(k[0], k[1]); !ok || [2]int64{first, last} != w {
						t.Fatalf("%x: lost in a bucket with room: %d,%d,%v, want %v", k, first, last, ok, w)
					}
				}
			}
		})
	}
}

// TestBucketClock: a full bucket evicts the records not answered since
// the hand passed, and keeps those answered.
func TestBucketClock(t *testing.T) {
	bk := &bucket{slots: 4}
	for i := range uint64(4) {
		bk.put(0, i, 1, 2)
	}
	for _, i := range []uint64{0, 2, 3} {
		if _, _, ok := bk.get(0, i); !ok {
			t.Fatalf("record %d missing", i)
		}
	}
	bk.put(0, 9, 1, 2) // evicts 1, the one not answered
	for _, c := range []struct {
		hi   uint64
		want bool
	}{{0, true}, {1, false}, {2, true}, {3, true}, {9, true}} {
		if _, _, ok := bk.get(0, c.hi); ok != c.want {
			t.Errorf("record %d held %v, want %v", c.hi, ok, c.want)
		}
	}
}

// TestTimes48: times round-trip through the record's 48- and 47-bit fields.
func TestTimes48(t *testing.T) {
	for _, v := range []int64{0, 1, -1, timeLimit - 1, -timeLimit + 1, 1772323200000, -62135596800000} {
		bk := &bucket{slots: 2}
		bk.put(7, 7, v, v)
		if first, last, ok := bk.get(7, 7); !ok || first != v || last != v {
			t.Errorf("%d: got %d, %d, %v", v, first, last, ok)
		}
	}
}
