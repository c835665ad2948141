package seen

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"
)

// Alert is one outbox entry: an alert document waiting for delivery. It
// is an alias of an unnamed struct type, as forward.Alert is, so the two
// are one type and the state implements forward.Outbox without either
// package importing the other: keep them alike.
type Alert = struct {
	Seq uint64
	Doc []byte
}

// Outbox lists up to max alerts after seq, in order (max <= 0: all). It
// seeks to seq+1, so a reader that passes the last seq it read does not
// step over what it deleted.
func (s *State) Outbox(after uint64, max int) ([]Alert, error) {
	if after == math.MaxUint64 {
		return nil, nil
	}
	if s.shared != nil {
		// One node at a time delivers the shared outbox.
		if held, err := s.shared.Lease(); err != nil || !held {
			return nil, err
		}
	}
	var out []Alert
	err := s.store.ScanFrom([]byte{prefixOutbox}, outboxKey(after+1), func(k, v []byte) bool {
		out = append(out, Alert{Seq: bytesToU64(k[1:]), Doc: append([]byte(nil), v...)})
		return max <= 0 || len(out) < max
	})
	return out, err
}

// Delete removes delivered alerts from the outbox, durably.
func (s *State) Delete(alerts []Alert) error {
	if len(alerts) == 0 {
		return nil
	}
	if s.shared != nil {
		seqs := make([]uint64, len(alerts))
		for i, a := range alerts {
			seqs[i] = a.Seq
		}
		if err := s.shared.DeleteOutbox(seqs); err != nil {
			return err
		}
		s.deleted(alerts)
		return nil
	}
	var w Writes
	for _, a := range alerts {
		w.Delete(outboxKey(a.Seq))
	}
	if err := s.store.Apply(&w); err != nil {
		return err
	}
	s.deleted(alerts)
	return nil
}

func (s *State) deleted(alerts []Alert) {
	var bytes int64
	last := uint64(0)
	for _, a := range alerts {
		bytes += int64(len(a.Doc))
		last = max(last, a.Seq)
	}
	left := s.outboxCount.Add(-int64(len(alerts)))
	s.outboxBytes.Add(-bytes)
	s.ages.removed(last, left == 0)
}

// outboxStore is what the embedded store offers the outbox beyond Store.
type outboxStore interface {
	deleteRangeNoSync(start, end []byte) error
	compact(ctx context.Context, start, end []byte) error
}

// Delivered removes delivered alerts: alerts must be what one Outbox call
// returned, or its beginning, so that no other alert lies between the
// first and the last (sequence numbers only grow). On pebble that is one
// range deletion instead of a tombstone per alert, and it is not synced:
// a deletion lost in a crash only sends those alerts again, under the
// same deterministic alert ids, so delivery stays at least once, and a
// sync per delivered batch would cost more than the delivery itself.
func (s *State) Delivered(alerts []Alert) error {
	if len(alerts) == 0 {
		return nil
	}
	for i := 1; i < len(alerts); i++ {
		if alerts[i].Seq <= alerts[i-1].Seq {
			return fmt.Errorf("state: delivered alerts out of order (%d after %d)", alerts[i].Seq, alerts[i-1].Seq)
		}
	}
	o, ok := s.store.(outboxStore)
	if !ok {
		return s.Delete(alerts)
	}
	if err := o.deleteRangeNoSync(outboxKey(alerts[0].Seq), outboxKey(alerts[len(alerts)-1].Seq+1)); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	s.deleted(alerts)
	return nil
}

// ReclaimOutbox gives back the disk space of the delivered alerts, all
// those up to through. Pebble frees deleted data only when it compacts
// the files holding it, which a drained outbox with no new writes may
// never prompt: the tables of 8,000 delivered alerts kept all their
// 18 MB without this.
func (s *State) ReclaimOutbox(ctx context.Context, through uint64) error {
	o, ok := s.store.(outboxStore)
	if !ok || through == math.MaxUint64 {
		return nil
	}
	if err := o.compact(ctx, outboxKey(0), outboxKey(through+1)); err != nil {
		return fmt.Errorf("state: compact the delivered outbox: %w", err)
	}
	return nil
}

// OutboxSize is the number of alerts waiting and their bytes; for a
// shared outbox, all nodes' (the last figures read, while the server
// cannot answer).
func (s *State) OutboxSize() (count, bytes int64) {
	if s.shared != nil {
		if n, b, err := s.shared.OutboxCounts(); err == nil {
			s.outboxCount.Store(n)
			s.outboxBytes.Store(b)
		}
	}
	return s.outboxCount.Load(), s.outboxBytes.Load()
}

// OutboxOldest is when the oldest alert waiting in the outbox was
// committed, to within a second; the zero time when the outbox is empty.
// For alerts committed before the state was opened it is the time of the
// opening: the age is then a lower bound.
func (s *State) OutboxOldest() time.Time {
	if n, _ := s.OutboxSize(); n == 0 {
		return time.Time{}
	}
	return s.ages.oldest()
}

// outboxAges remembers when alerts entered the outbox, for the age of the
// oldest waiting one (a delivery that lags shows as a growing age before
// anything is lost). Alerts leave the outbox in sequence order, so one
// entry per second of commits is enough: the first sequence number
// committed in that second and when. A day of outage holds 86,400 entries
// at most.
type outboxAges struct {
	mu      sync.Mutex
	entries []ageEntry // entries[i] covers seq from entries[i].seq to entries[i+1].seq
}

type ageEntry struct {
	seq uint64
	at  time.Time
}

// added notes alerts committed at at, the first of them numbered first.
func (a *outboxAges) added(first uint64, at time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if n := len(a.entries); n > 0 && at.Sub(a.entries[n-1].at) < time.Second {
		return
	}
	a.entries = append(a.entries, ageEntry{first, at})
}

// removed notes that every alert through seq left the outbox; empty: none
// is left.
func (a *outboxAges) removed(seq uint64, empty bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if empty {
		a.entries = a.entries[:0]
		return
	}
	i := 0
	for i+1 < len(a.entries) && a.entries[i+1].seq <= seq+1 {
		i++
	}
	a.entries = append(a.entries[:0], a.entries[i:]...)
}

// loaded resets what is known after the outbox was read from disk: first
// is its lowest sequence number (0: empty), at the time of the reading.
func (a *outboxAges) loaded(first uint64, at time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if first == 0 {
		a.entries = a.entries[:0]
		return
	}
	// A reopening after a failure keeps what it knew of alerts still there.
	i := 0
	for i+1 < len(a.entries) && a.entries[i+1].seq <= first {
		i++
	}
	a.entries = append(a.entries[:0], a.entries[i:]...)
	if len(a.entries) == 0 || a.entries[0].seq > first {
		a.entries = append([]ageEntry{{first, at}}, a.entries...)
	}
}

func (a *outboxAges) oldest() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.entries) == 0 {
		return time.Time{}
	}
	return a.entries[0].at
}
