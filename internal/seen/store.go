package seen

import (
	"errors"
	"fmt"
	"time"
)

// Store is the durable key-value store under the seen state. The embedded
// default is pebble; a shared Redis-protocol store can implement the same
// four operations (GET, MULTI/EXEC, SCAN) for several Fluent Bit nodes.
type Store interface {
	// Get returns a copy of the value at key; found is false when absent.
	Get(key []byte) (val []byte, found bool, err error)
	// Apply writes all sets and deletes atomically and durably.
	Apply(w *Writes) error
	// Scan calls fn for each key with the prefix, in key order, until fn
	// returns false. Key and value are valid only during the call.
	Scan(prefix []byte, fn func(key, val []byte) bool) error
	// ScanFrom is Scan from the first key at or after start: a reader that
	// resumes where it stopped seeks past what it read, and past the
	// deletion tombstones there, instead of stepping over them.
	ScanFrom(prefix, start []byte, fn func(key, val []byte) bool) error
	Close() error
}

// Writes is one atomic commit.
type Writes struct {
	sets    [][2][]byte
	deletes [][]byte
}

// Set records a write of key (copied).
func (w *Writes) Set(key, val []byte) {
	w.sets = append(w.sets, [2][]byte{append([]byte(nil), key...), append([]byte(nil), val...)})
}

// Delete records a deletion of key (copied).
func (w *Writes) Delete(key []byte) { w.deletes = append(w.deletes, append([]byte(nil), key...)) }

// Each visits the sets, then the deletes (for Store implementations).
func (w *Writes) Each(fn func(key, val []byte, del bool)) {
	for _, kv := range w.sets {
		fn(kv[0], kv[1], false)
	}
	for _, k := range w.deletes {
		fn(k, nil, true)
	}
}

// Len is the number of operations.
func (w *Writes) Len() int { return len(w.sets) + len(w.deletes) }

// prefixEnd is the smallest key after every key with the prefix.
func prefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// Shared is a Store that several processes (Fluent Bit nodes) write at
// once: the Redis backend. Each process keeps deciding from its own cache
// and reads, as over an embedded store; a commit then carries, for the
// tuples it created, the condition under which that decision holds, and
// the server applies the whole commit only if every condition still holds
// there (optimistic concurrency). Otherwise nothing is applied, Commit
// returns an error matching ErrConflict, and the batch decides again from
// fresh reads: of two nodes that find one tuple new at once, one commits
// it, and the other then finds it known.
type Shared interface {
	Store
	// Commit applies c atomically, or nothing of it (ErrConflict, or the
	// server's failure).
	Commit(c *Commit) (Committed, error)
	// GetMany reads keys in one round trip: nil for an absent key.
	GetMany(keys [][]byte) ([][]byte, error)
	// ScanUnordered visits the keys with the prefix in any order, for
	// readers that need no order (stats, listing, expiry) over more keys
	// than an ordered scan should sort.
	ScanUnordered(prefix []byte, fn func(key, val []byte) bool) error
	// OutboxCounts is what waits in the shared outbox.
	OutboxCounts() (count, bytes int64, err error)
	// DeleteOutbox removes outbox entries by sequence number.
	DeleteOutbox(seqs []uint64) error
	// Lease takes or renews the right to deliver the shared outbox, held
	// by one process at a time; false: another holds it.
	Lease() (bool, error)
}

// ErrConflict: a shared commit found on the server a write of another
// process that one of its decisions did not know of. Nothing was applied.
var ErrConflict = errors.New("state: another node changed a tuple this batch decided on")

// ConflictError names the keys of a conflict: the state forgets what it
// knew of them before deciding again.
type ConflictError struct {
	Keys  [][]byte // tuple keys
	Rules bool     // a rule's record (coverage) moved
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%v (%d tuples)", ErrConflict, len(e.Keys))
}
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// Commit is one batch for a Shared store.
type Commit struct {
	// Created are tuples decided new (novel, learning or backfilled).
	Created []Created
	// Refreshed are known tuples whose first_seen moved back or whose
	// last_seen moved forward: merged with min and max on the server.
	Refreshed []Refreshed
	// Rules are the batch's rule records: earliest merged with min,
	// high-water with max; window and name are the batch's.
	Rules []RuleWrite
	// Alerts go into the shared outbox, numbered by the server.
	Alerts [][]byte
	// Expire deletes tuples whose last_seen is still before Before.
	Expire []Expire
	// Writes are any other keys (the format marker).
	Writes Writes
}

// Created is a tuple decided new at event time T: the decision holds if
// the server has no record of it or one whose last_seen is before
// T - window (Before). A learning decision also needs the rule's earliest
// event to be after Before (it would alert otherwise).
type Created struct {
	Key      []byte // tuple key
	Val      []byte // the record (encode)
	Before   int64
	Learning bool
	Window   time.Duration
}

// Refreshed is a known tuple's new times; Val stands in for the record
// when the server no longer has it (expired meanwhile).
type Refreshed struct {
	Key         []byte
	First, Last int64 // noTime: unchanged
	Val         []byte
	Window      time.Duration
}

// RuleWrite is a rule record to merge.
type RuleWrite struct {
	Key []byte // rule key ('r' + hash)
	Val []byte // the record (encode)
}

// Expire is a conditional deletion of a tuple.
type Expire struct {
	Key    []byte
	Before int64
}

// Committed is what the server says of a commit.
type Committed struct {
	FirstSeq uint64            // sequence number of the first alert
	Rules    map[string][]byte // the merged rule records, by key
	Expired  int               // tuples deleted by Expire
	// Number orders the commits of all processes: decisions are those of
	// the batches run one after the other in this order.
	Number uint64
}
