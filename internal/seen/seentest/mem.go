// Package seentest holds what tests of the seen state share: Mem, an
// in-memory seen.Store, and Run, the conformance suite every Store must
// pass (pebble, Mem, and a future shared backend).
package seentest

import (
	"bytes"
	"errors"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/newterms/newterms/internal/seen"
)

// ErrClosed is returned by the calls of a closed Mem.
var ErrClosed = errors.New("seentest: store closed")

// Mem is an in-memory seen.Store with pebble's semantics where the state
// relies on them: an Apply is atomic (a reader sees all of it or none of
// it; its sets go first, then its deletes, as pebbleStore writes them); a
// scan sees the store as it was when the scan began, and the calls of fn
// may use the store; what Get returns is the caller's. It is stricter
// where pebble is lenient: the key and value a scan hands fn are
// overwritten after the call, so a caller that keeps them sees garbage.
//
// Its data outlive Close: Reopen opens them again, as a restart reopens
// a state directory. Nothing committed is lost (Apply has nothing
// unsynced). Meant for tests: every Apply copies the whole store.
type Mem struct {
	d      *memData
	closed atomic.Bool
	fail   atomic.Pointer[error]
}

// memData is what a restart keeps.
type memData struct {
	mu   sync.Mutex // serialises commits, Close and Reopen
	open bool       // a handle is open: one at a time, as pebble's lock
	snap atomic.Pointer[[]kv]
}

// kv is one entry; entries never change once stored: a commit replaces
// the sorted slice, so a scan goes on over the one it began with.
type kv struct{ k, v []byte }

// NewMem returns an empty store.
func NewMem() *Mem {
	d := &memData{open: true}
	d.snap.Store(&[]kv{})
	return &Mem{d: d}
}

// Reopen returns a new handle on m's data once m is closed: what a
// restart of the process sees.
func (m *Mem) Reopen() (*Mem, error) {
	m.d.mu.Lock()
	defer m.d.mu.Unlock()
	if m.d.open {
		return nil, errors.New("seentest: reopening a store that is still open")
	}
	m.d.open = true
	return &Mem{d: m.d}, nil
}

// FailApply makes every Apply from now on return err, writing nothing, as
// a commit that failed (a full disk); nil makes them succeed again.
func (m *Mem) FailApply(err error) {
	if err == nil {
		m.fail.Store(nil)
		return
	}
	m.fail.Store(&err)
}

func (m *Mem) entries() ([]kv, error) {
	if m.closed.Load() {
		return nil, ErrClosed
	}
	return *m.d.snap.Load(), nil
}

// Get returns a copy of the value at key.
func (m *Mem) Get(key []byte) (val []byte, found bool, err error) {
	es, err := m.entries()
	if err != nil {
		return nil, false, err
	}
	i, ok := slices.BinarySearchFunc(es, key, func(e kv, k []byte) int { return bytes.Compare(e.k, k) })
	if !ok {
		return nil, false, nil
	}
	return bytes.Clone(es[i].v), true, nil
}

// Apply writes w's sets, then its deletes, at once.
func (m *Mem) Apply(w *seen.Writes) error {
	if e := m.fail.Load(); e != nil {
		return *e
	}
	type op struct {
		v   []byte
		del bool
	}
	ops := map[string]op{}
	w.Each(func(k, v []byte, del bool) {
		if del {
			ops[string(k)] = op{del: true}
		} else {
			ops[string(k)] = op{v: append([]byte{}, v...)}
		}
	})
	keys := make([]string, 0, len(ops))
	for k := range ops {
		keys = append(keys, k)
	}
	slices.Sort(keys)

	m.d.mu.Lock()
	defer m.d.mu.Unlock()
	if m.closed.Load() {
		return ErrClosed
	}
	old := *m.d.snap.Load()
	next := make([]kv, 0, len(old)+len(keys))
	i := 0
	for _, k := range keys {
		for i < len(old) && string(old[i].k) < k {
			next = append(next, old[i])
			i++
		}
		if i < len(old) && string(old[i].k) == k {
			i++
		}
		if o := ops[k]; !o.del {
			next = append(next, kv{[]byte(k), o.v})
		}
	}
	next = append(next, old[i:]...)
	m.d.snap.Store(&next)
	return nil
}

// Scan calls fn for each key with the prefix, in key order.
func (m *Mem) Scan(prefix []byte, fn func(key, val []byte) bool) error {
	return m.ScanFrom(prefix, prefix, fn)
}

// ScanFrom is Scan from the first key at or after start.
func (m *Mem) ScanFrom(prefix, start []byte, fn func(key, val []byte) bool) error {
	es, err := m.entries()
	if err != nil {
		return err
	}
	lower := prefix
	if bytes.Compare(start, prefix) > 0 {
		lower = start
	}
	var k, v []byte // scratch: what fn gets is valid during the call only
	for i := sort.Search(len(es), func(i int) bool { return bytes.Compare(es[i].k, lower) >= 0 }); i < len(es) && bytes.HasPrefix(es[i].k, prefix); i++ {
		k, v = append(k[:0], es[i].k...), append(v[:0], es[i].v...)
		if !fn(k, v) {
			break
		}
	}
	return nil
}

// Close closes the handle; the data stay for Reopen.
func (m *Mem) Close() error {
	m.d.mu.Lock()
	defer m.d.mu.Unlock()
	if m.closed.Swap(true) {
		return ErrClosed
	}
	m.d.open = false
	return nil
}
