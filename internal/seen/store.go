package seen

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/sstable"
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

// pebbleStore is the embedded default.
type pebbleStore struct {
	db  *pebble.DB
	dir string
}

// Pebble's caches are allocated in C: outside the Go heap and GOMEMLIMIT,
// freed only by Close. They are sized here on purpose, for a process of
// at most cache_size + 128 MiB with 10 million tuples (see README):
//   - a 48 MiB block cache: the hot set lives in the ristretto cache in
//     front; this keeps index and filter blocks resident, which a 32 MiB
//     cache did not at 10 million tuples (each miss then re-read them:
//     half the throughput);
//   - 8 MiB memtables: one batch per flush is small, a small memtable keeps
//     reopen (WAL replay) fast and its skiplist lookups short;
//   - 10-bit bloom filters on every level but the last, whose filters
//     pebble's point reads never consult: a cold check of a tuple never
//     seen, the common case for new tuples, skips the upper levels.
const (
	blockCacheSize = 48 << 20
	memTableSize   = 8 << 20
)

// openDirs refuses a second open of one state directory in this process:
// pebble's file lock does not stop the same process (two plugin
// instances), so this does.
var openDirs sync.Map

func openPebble(dir string, logf func(string, ...any)) (*pebbleStore, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", dir, err)
	}
	if _, dup := openDirs.LoadOrStore(abs, true); dup {
		return nil, fmt.Errorf("state %s: already open in this process (two instances cannot share a state_dir)", dir)
	}
	ok := false
	defer func() {
		if !ok {
			openDirs.Delete(abs)
		}
	}()
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("state %s: %w", dir, err)
	}
	if err := os.Chmod(abs, 0o700); err != nil {
		return nil, fmt.Errorf("state %s: %w", dir, err)
	}
	cache := pebble.NewCache(blockCacheSize)
	defer cache.Unref()
	opts := &pebble.Options{
		Cache:        cache,
		MemTableSize: memTableSize,
		Logger:       logger{logf},
		// Compactions churn the most C memory: hand it back after each.
		EventListener: &pebble.EventListener{CompactionEnd: func(pebble.CompactionInfo) { trimCHeap() }},
	}
	for i := range opts.Levels {
		if i < len(opts.Levels)-1 {
			opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		}
		opts.Levels[i].Compression = func() *sstable.CompressionProfile { return sstable.NoCompression }
	}
	db, err := pebble.Open(abs, opts)
	if err != nil {
		return nil, fmt.Errorf("state %s: cannot open: %w", dir, err)
	}
	ok = true
	return &pebbleStore{db: db, dir: abs}, nil
}

func (p *pebbleStore) Get(key []byte) ([]byte, bool, error) {
	v, closer, err := p.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	out := append([]byte(nil), v...)
	return out, true, closer.Close()
}

func (p *pebbleStore) Apply(w *Writes) error {
	b := p.db.NewBatch()
	defer b.Close()
	for _, kv := range w.sets {
		if err := b.Set(kv[0], kv[1], nil); err != nil {
			return err
		}
	}
	for _, k := range w.deletes {
		if err := b.Delete(k, nil); err != nil {
			return err
		}
	}
	return b.Commit(pebble.Sync)
}

func (p *pebbleStore) Scan(prefix []byte, fn func(key, val []byte) bool) error {
	return p.ScanFrom(prefix, prefix, fn)
}

func (p *pebbleStore) ScanFrom(prefix, start []byte, fn func(key, val []byte) bool) error {
	lower := prefix
	if bytes.Compare(start, prefix) > 0 {
		lower = start
	}
	upper := prefixEnd(prefix)
	if upper != nil && bytes.Compare(lower, upper) >= 0 {
		return nil
	}
	it, err := p.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return err
	}
	for valid := it.First(); valid; valid = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return err
		}
		if !fn(it.Key(), v) {
			break
		}
	}
	return it.Close()
}

func (p *pebbleStore) Close() error {
	err := p.db.Close()
	openDirs.Delete(p.dir)
	return err
}

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

// logger keeps pebble's informational chatter out of Fluent Bit's log and
// passes its errors on.
type logger struct{ logf func(string, ...any) }

func (logger) Infof(string, ...any) {}
func (l logger) Errorf(format string, args ...any) {
	l.logf("state store: "+format, args...)
}
func (l logger) Fatalf(format string, args ...any) {
	l.logf("state store: fatal: "+format, args...)
	panic(fmt.Sprintf("pebble: "+format, args...))
}
