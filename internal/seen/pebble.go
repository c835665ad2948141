package seen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/sys/unix"

	"github.com/newterms/newterms/internal/logx"
)

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

// DefaultMinFree is the space a commit leaves free on the state's file
// system. Pebble cannot go on after a failed write to its log (it treats
// it as fatal), so commits stop short of a full disk: the flush is retried
// and nothing is written until space returns. It covers a memtable flush
// and the log of a batch.
const DefaultMinFree = 4 * memTableSize

// ErrNoSpace is returned by a commit refused for lack of disk space.
var ErrNoSpace = errors.New("not enough free space")

// ErrFailed is returned while the store is out of service after a failure
// pebble cannot go on from; it is reopened at the next batch.
var ErrFailed = errors.New("store failed")

// defaultReopenEvery paces attempts to reopen a failed store.
const defaultReopenEvery = time.Second

// closeBound bounds the wait for a store to close at exit: one that
// failed in the middle of its work may never finish closing.
const closeBound = 5 * time.Second

// openDirs refuses a second open of one state directory in this process:
// pebble's file lock does not stop the same process (two plugin
// instances), so this does.
var openDirs sync.Map

// pebbleStore is the embedded default. It survives pebble's fatal errors
// (a full disk under its log, a failed manifest write): the failing call
// returns an error, the store goes out of service, and heal reopens it
// from what is durable on disk.
type pebbleStore struct {
	dir     string
	log     logx.Func
	minFree int64
	fs      vfs.FS // nil: the OS; tests inject faults
	release func() // Options.ReleaseCMemory, never nil
	// reopenEvery paces attempts to reopen a failed store.
	reopenEvery time.Duration

	// free is the space left on the state's file system.
	free func() (int64, error)

	mu      sync.RWMutex // the db is replaced under the write lock
	db      *pebble.DB
	failed  atomic.Pointer[error] // set: out of service until reopened
	tried   time.Time             // the last reopen attempt
	healing *healing              // a close and reopen under way, or nil

	broken logx.Condition
}

// healing is a failed db being closed and the store reopened, in the
// background: either may take long (pebble retries a flush that fails
// for lack of space), and no flush may wait on them.
type healing struct {
	done chan struct{}
	db   *pebble.DB // the reopened db, once done
	err  error
}

func openPebble(dir string, log logx.Func, fs vfs.FS, release func()) (*pebbleStore, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", dir, err)
	}
	if _, dup := openDirs.LoadOrStore(abs, true); dup {
		return nil, fmt.Errorf("state %s: already open in this process (two instances cannot share a state_dir)", dir)
	}
	if release == nil {
		release = func() {}
	}
	p := &pebbleStore{dir: abs, log: log, minFree: DefaultMinFree, fs: fs, release: release, reopenEvery: defaultReopenEvery}
	p.free = func() (int64, error) {
		var st unix.Statfs_t
		err := unix.Statfs(abs, &st)
		return int64(st.Bavail) * int64(st.Bsize), err
	}
	if p.db, err = p.open(); err != nil {
		openDirs.Delete(abs)
		return nil, fmt.Errorf("state %s: %w", dir, err)
	}
	return p, nil
}

func (p *pebbleStore) open() (*pebble.DB, error) {
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return nil, err
	}
	if err := os.Chmod(p.dir, 0o700); err != nil {
		return nil, err
	}
	// A directory that already holds data is an existing state: if pebble
	// cannot find its manifest there (a deleted marker, a copy gone wrong)
	// it must fail, never create an empty store beside the old files. A
	// creation cut short (a kill in the first open) leaves no data: that
	// one is created again.
	existing, err := firstData(p.dir)
	if err != nil {
		return nil, err
	}
	cache := pebble.NewCache(blockCacheSize)
	defer cache.Unref()
	opts := &pebble.Options{
		Cache:        cache,
		MemTableSize: memTableSize,
		Logger:       logger{p},
		FS:           p.fs,
		EventListener: &pebble.EventListener{
			// Compactions churn the most C memory: hand it back after each.
			CompactionEnd:   func(pebble.CompactionInfo) { p.release() },
			BackgroundError: func(err error) { p.log.Warnf("state %s: background work failed, to be retried: %v", p.dir, err) },
		},
		ErrorIfNotExists: existing != "",
	}
	for i := range opts.Levels {
		if i < len(opts.Levels)-1 {
			opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		}
		opts.Levels[i].Compression = func() *sstable.CompressionProfile { return sstable.NoCompression }
	}
	db, err := pebble.Open(p.dir, opts)
	if err != nil {
		if existing != "" && errors.Is(err, pebble.ErrDBDoesNotExist) {
			return nil, fmt.Errorf("cannot open: it holds files (%s) but no store manifest (marker.manifest.*): damaged, or not a state directory; refusing to start an empty state over it", existing)
		}
		return nil, fmt.Errorf("cannot open: %w", err)
	}
	return db, nil
}

// firstData names one entry of dir that may hold data, or "" when there
// is none: what pebble writes before its first commit (the lock, options,
// a manifest and markers, an empty log) holds none.
func firstData(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == "LOCK", strings.HasPrefix(name, "OPTIONS-"), strings.HasPrefix(name, "MANIFEST-"),
			strings.HasPrefix(name, "marker.") && !strings.HasPrefix(name, "marker.manifest."):
			continue
		case strings.HasSuffix(name, ".log"):
			if info, err := e.Info(); err == nil && info.Size() == 0 {
				continue
			}
		}
		return name, nil
	}
	return "", nil
}

// fatal carries a pebble fatal error up to the call that caused it.
type fatal struct{ err error }

// call runs fn on the open db, turning a panic inside pebble (its fatal
// errors among them) into an error that takes the store out of service:
// pebble's state after one is undefined, so nothing touches that db again
// but a bounded close.
func (p *pebbleStore) call(fn func(db *pebble.DB) error) (err error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if err := p.failure(); err != nil {
		return err
	}
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(fatal)
			if !ok {
				f.err = fmt.Errorf("pebble: panic: %v", r)
			}
			err = p.fail(f.err)
		}
	}()
	return fn(p.db)
}

// fail takes the store out of service; the first failure is the one
// reported until the store is reopened.
func (p *pebbleStore) fail(cause error) error {
	err := fmt.Errorf("state %s: %w: %v", p.dir, ErrFailed, cause)
	if p.failed.CompareAndSwap(nil, &err) {
		p.broken.Fail(p.log, "%v; commits wait (chunks are retried) and the store is reopened from what is on disk", err)
	}
	return p.failure()
}

func (p *pebbleStore) failure() error {
	if e := p.failed.Load(); e != nil {
		return *e
	}
	return nil
}

// diskUsage is what the database's files take on disk.
func (p *pebbleStore) diskUsage() (n int64, err error) {
	err = p.call(func(db *pebble.DB) error {
		n = int64(db.Metrics().DiskSpaceUsage())
		return nil
	})
	return n, err
}

func (p *pebbleStore) Get(key []byte) (val []byte, found bool, err error) {
	err = p.call(func(db *pebble.DB) error {
		v, closer, err := db.Get(key)
		if errors.Is(err, pebble.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		val, found = append([]byte(nil), v...), true
		return closer.Close()
	})
	return val, found, err
}

func (p *pebbleStore) Apply(w *Writes) error {
	if len(w.sets) > 0 {
		if err := p.checkSpace(); err != nil {
			return err
		}
	}
	return p.call(func(db *pebble.DB) error {
		b := db.NewBatch()
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
	})
}

// checkSpace refuses a commit that would leave less than minFree on the
// file system; deletes alone pass (they free space, in time).
func (p *pebbleStore) checkSpace() error {
	free, err := p.free()
	if err == nil && free < p.minFree {
		return fmt.Errorf("state %s: %w: %d MiB free on its file system, commits keep %d MiB free", p.dir, ErrNoSpace, free>>20, p.minFree>>20)
	}
	return nil
}

func (p *pebbleStore) Scan(prefix []byte, fn func(key, val []byte) bool) error {
	return p.ScanFrom(prefix, prefix, fn)
}

func (p *pebbleStore) ScanFrom(prefix, start []byte, fn func(key, val []byte) bool) error {
	lower, upper := prefix, prefixEnd(prefix)
	if bytes.Compare(start, prefix) > 0 {
		lower = start
	}
	if upper != nil && bytes.Compare(lower, upper) >= 0 {
		return nil
	}
	return p.call(func(db *pebble.DB) error {
		it, err := db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
		if err != nil {
			return err
		}
		defer it.Close()
		for valid := it.First(); valid; valid = it.Next() {
			v, err := it.ValueAndErr()
			if err != nil {
				return err
			}
			if !fn(it.Key(), v) {
				break
			}
		}
		return it.Error()
	})
}

// deleteRangeNoSync and compact serve the outbox (see State.Delivered).
func (p *pebbleStore) deleteRangeNoSync(start, end []byte) error {
	return p.call(func(db *pebble.DB) error { return db.DeleteRange(start, end, pebble.NoSync) })
}

func (p *pebbleStore) compact(ctx context.Context, start, end []byte) error {
	return p.call(func(db *pebble.DB) error { return db.Compact(ctx, start, end, false) })
}

// heal reopens a store that failed: at most once per reopenEvery, once
// there is space, in the background. It says whether it reopened: the
// caller must then reread what it keeps in memory, since the failed write
// may or may not have reached the disk.
func (p *pebbleStore) heal() (reopened bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	failed := p.failure()
	if failed == nil {
		return false, nil
	}
	if h := p.healing; h != nil {
		select {
		case <-h.done:
		default:
			return false, failed
		}
		p.healing = nil
		if h.err != nil {
			return false, fmt.Errorf("%w; reopen failed, tried again in %s: %v", failed, p.reopenEvery, h.err)
		}
		p.db = h.db
		p.failed.Store(nil)
		p.broken.Clear(p.log, "state %s: reopened after the failure; commits go on", p.dir)
		return true, nil
	}
	if time.Since(p.tried) < p.reopenEvery {
		return false, failed
	}
	if free, err := p.free(); err == nil && free < p.minFree {
		return false, fmt.Errorf("%w; reopened once %d MiB are free (%d MiB now)", failed, p.minFree>>20, free>>20)
	}
	p.tried = time.Now()
	h := &healing{done: make(chan struct{})}
	p.healing = h
	go func(old *pebble.DB) {
		defer close(h.done)
		closeFailed(old)
		h.db, h.err = p.open()
	}(p.db)
	return false, failed
}

// closeFailed closes a db that failed: it may panic on the way.
func closeFailed(db *pebble.DB) {
	defer func() { recover() }()
	db.Close()
}

func (p *pebbleStore) Close() error {
	defer openDirs.Delete(p.dir)
	p.mu.Lock()
	defer p.mu.Unlock()
	failed := p.failure()
	if failed == nil {
		return p.db.Close()
	}
	h := p.healing
	if h == nil {
		h = &healing{done: make(chan struct{})}
		go func(db *pebble.DB) { defer close(h.done); closeFailed(db) }(p.db)
	}
	select {
	case <-h.done:
		if h.db != nil {
			h.db.Close()
		}
	case <-time.After(closeBound): // never wait on a failed store unbounded
	}
	return failed
}

// logger keeps pebble's informational chatter out of Fluent Bit's log,
// passes its errors on, and turns its fatal errors into a failed store.
type logger struct{ p *pebbleStore }

func (logger) Infof(string, ...any) {}
func (l logger) Errorf(format string, args ...any) {
	l.p.log.Errorf("state %s: "+format, append([]any{l.p.dir}, args...)...)
}

// Fatalf: pebble expects it not to return. Called from one of the store's
// own calls, it panics up to that call (see call), which takes the store
// out of service; from one of pebble's background goroutines, it marks the
// store failed and ends that goroutine alone, where a panic would end the
// whole process (Fluent Bit).
func (l logger) Fatalf(format string, args ...any) {
	err := fmt.Errorf("pebble: "+format, args...)
	if foreground() {
		panic(fatal{err})
	}
	l.p.fail(err)
	runtime.Goexit()
}

// foreground says whether the calling goroutine is inside one of the
// store's own calls: only those have the store's methods on their stack
// (pebble's goroutines start in pebble).
func foreground() bool {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for {
		f, more := frames.Next()
		if strings.HasPrefix(f.Function, "github.com/newterms/newterms/internal/seen.(*pebbleStore).") {
			return true
		}
		if !more {
			return false
		}
	}
}

// OpenPebble opens the embedded store alone (state copy, the conformance
// suite); Open opens it itself when Options.Store is nil.
func OpenPebble(dir string, log logx.Func, release func()) (Store, error) {
	return openPebble(dir, log, nil, release)
}
