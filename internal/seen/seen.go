// Package seen keeps, per rule, the term tuples seen within the rule's
// history window: a ristretto hot cache in front of a durable store
// (pebble), one atomic synced commit per batch, and an outbox of alert
// documents written in the same commit as the state change that caused
// them.
//
// Semantics (by event time, as docs/design.md states them): a tuple is
// novel when it has no record, or the event is more than the window after
// the record's last_seen. An older, out-of-order event is never novel; it
// moves first_seen back. last_seen is rewritten only when it moves by more
// than a granularity (window/100, at least a minute), so repeated tuples
// cost no writes; decisions read the stored value, whether it comes from
// the cache or the store, so they do not depend on what the cache holds.
//
// Decisions follow arrival (commit) order, unless a reorder window is set
// (Options.MaxLateness, see hold.go): events within it are then decided in
// event-time order, whatever the order in which batches commit.
package seen

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/zeebo/xxh3"

	"github.com/newterms/newterms/internal/logx"
)

// Rule is what the state needs to know of a rule.
type Rule struct {
	Key    string // rule_id plus a hash of query, fields and window
	Name   string
	Window time.Duration
}

// Decision is the verdict on one tuple.
type Decision uint8

const (
	Known      Decision = iota // seen within the window
	Novel                      // new: alert
	Learning                   // new, but the rule's state does not cover a window yet
	Backfilled                 // new, recorded by a learn-only run
)

func (d Decision) String() string {
	return [...]string{"known", "novel", "learning", "backfilled", "held"}[d]
}

// Options configure Open.
type Options struct {
	Dir string
	// CacheSize bounds the hot cache in bytes; 0 means DefaultCacheSize.
	CacheSize int64
	// NoLearning alerts from the first event, without waiting for a rule's
	// state to cover a whole window.
	NoLearning bool
	// Granularity of last_seen refreshes for a window; nil means
	// DefaultGranularity. Return 0 to write every move.
	Granularity func(window time.Duration) time.Duration
	// CompactInterval is how often expired tuples are removed in the
	// background; 0 means DefaultCompactInterval, negative never.
	CompactInterval time.Duration
	// Log reports background work and failures; nil discards.
	Log logx.Func
	// Store replaces the embedded pebble store (Dir is then unused).
	Store Store
	// MaxLateness is the reorder window: an event at most this much older
	// than the newest its rule has checked is decided in event-time order
	// (see hold.go). 0 decides in arrival order.
	MaxLateness time.Duration
	// ReleaseCMemory hands C memory that pebble freed back to the system:
	// pebble allocates its blocks with C malloc, and under churn glibc's
	// per-thread arenas keep what it frees (some 40 MiB of RSS beyond the
	// block cache at 10 million tuples). The programs supply it
	// (malloc_trim), so that cgo stays out of internal/. It is called after
	// each compaction, on pebble's goroutines, and every 32 commits; nil
	// does nothing.
	ReleaseCMemory func()

	fs          vfs.FS        // the embedded store's file system (tests)
	reopenEvery time.Duration // pacing of reopens after a failure (tests)
}

const (
	DefaultCacheSize       = 64 << 20
	DefaultCompactInterval = time.Hour
)

// DefaultGranularity is window/100, at least one minute.
func DefaultGranularity(window time.Duration) time.Duration {
	return max(window/100, time.Minute)
}

// State is the seen state of all rules. Batches run one at a time: a tuple
// new to two concurrent flushes alerts once.
type State struct {
	store  Store
	shared Shared // the store, when several processes share it; else nil
	opts   Options
	cache  *tupleCache // see cache.go

	mu      sync.Mutex             // held by a batch from Begin to Commit/Abort
	rules   map[uint64]*ruleRecord // rule records as committed batches left them
	written map[uint64]*ruleRecord // rule records as last written to the store
	nextSeq uint64                 // next outbox sequence number
	format  int                    // the store's format marker

	// Held events (hold.go), under mu.
	held     map[entryKey][]*heldItem // by tuple, in order
	heldN    atomic.Int64             // their number
	nextHold uint64                   // next held event sequence number
	advanced map[uint64]time.Time     // by rule: when its watermark last moved

	outboxCount atomic.Int64
	outboxBytes atomic.Int64
	ages        outboxAges
	commits     int // under mu

	stop chan struct{}
	done chan struct{}
}

// Open opens (or creates) the state. A store of a newer format, or one that
// holds data but no format marker, is an error, never a silent reset.
func Open(opts Options) (*State, error) {
	if opts.CacheSize <= 0 {
		opts.CacheSize = DefaultCacheSize
	}
	if opts.Granularity == nil {
		opts.Granularity = DefaultGranularity
	}
	if opts.CompactInterval == 0 {
		opts.CompactInterval = DefaultCompactInterval
	}
	if opts.ReleaseCMemory == nil {
		opts.ReleaseCMemory = func() {}
	}
	store := opts.Store
	if store == nil {
		p, err := openPebble(opts.Dir, opts.Log, opts.fs, opts.ReleaseCMemory)
		if err != nil {
			return nil, err
		}
		if opts.reopenEvery != 0 {
			p.reopenEvery = opts.reopenEvery
		}
		store = p
	}
	s := &State{store: store, opts: opts}
	if sh, ok := store.(Shared); ok {
		// Held events live in one process's memory until released: other
		// nodes could not see them.
		if opts.MaxLateness > 0 {
			store.Close()
			return nil, errors.New("state: max_lateness needs the embedded store: a shared state cannot hold events for ordering")
		}
		s.shared = sh
		s.opts.CompactInterval = -1 // tuples expire by TTL on the server
	}
	if err := s.load(); err != nil {
		store.Close()
		return nil, err
	}
	cache, err := newTupleCache(s.opts.CacheSize)
	if err != nil {
		store.Close()
		return nil, err
	}
	s.cache = cache
	if s.opts.CompactInterval > 0 {
		s.stop, s.done = make(chan struct{}), make(chan struct{})
		go s.compactLoop()
	}
	return s, nil
}

// load checks the format and reads rule records and the outbox position.
func (s *State) load() error {
	s.rules, s.written = map[uint64]*ruleRecord{}, map[uint64]*ruleRecord{}
	s.outboxCount.Store(0)
	s.outboxBytes.Store(0)
	v, found, err := s.store.Get(formatKey)
	if err != nil {
		return fmt.Errorf("state: read format: %w", err)
	}
	empty := true
	if !found {
		if err := s.scanAny(nil, func(k, _ []byte) bool { empty = false; return false }); err != nil {
			return fmt.Errorf("state: %w", err)
		}
		if !empty {
			// On a shared store another node may have just begun the
			// state: the marker is its first write, so data written since
			// our read comes with a marker.
			if v, found, err = s.store.Get(formatKey); err != nil {
				return fmt.Errorf("state: read format: %w", err)
			}
		}
	}
	switch {
	case !found && !empty:
		return fmt.Errorf("state: the directory holds data without a newterms format marker: not a newterms state, or damaged")
	case !found:
		var w Writes
		w.Set(formatKey, []byte(strconv.Itoa(formatPlain)))
		if err := s.store.Apply(&w); err != nil {
			return fmt.Errorf("state: write format: %w", err)
		}
		s.format = formatPlain
	default:
		n, err := strconv.Atoi(string(v))
		switch {
		case err != nil:
			return fmt.Errorf("state: format marker %q is damaged", v)
		case n > formatVersion:
			return fmt.Errorf("state: format version %d is newer than this build's %d: upgrade newterms", n, formatVersion)
		}
		s.format = n
	}
	var bad error // the scan's own result must not overwrite it
	err = s.store.Scan([]byte{prefixRule}, func(k, v []byte) bool {
		rec, err := decodeRule(v)
		if err != nil {
			bad = fmt.Errorf("state: rule record %x is damaged: %w", k[1:], err)
			return false
		}
		rh := bytesToU64(k[1:])
		s.rules[rh] = &rec
		w := rec
		s.written[rh] = &w
		return true
	})
	if err = cmp.Or(bad, err); err != nil {
		return err
	}
	if err := s.loadHeld(); err != nil {
		return err
	}
	s.nextSeq = 1
	if s.shared != nil {
		if len(s.held) > 0 {
			return fmt.Errorf("state: %d events held for ordering (max_lateness) in a shared state: release them with the embedded store first", len(s.held))
		}
		// The server numbers and counts the shared outbox; what waits there
		// is taken as committed now (its age a lower bound).
		n, bytes, err := s.shared.OutboxCounts()
		s.outboxCount.Store(n)
		s.outboxBytes.Store(bytes)
		s.ages.loaded(min(uint64(n), 1), time.Now())
		return err
	}
	first := uint64(0)
	err = s.store.Scan([]byte{prefixOutbox}, func(k, v []byte) bool {
		s.nextSeq = bytesToU64(k[1:]) + 1
		if first == 0 {
			first = s.nextSeq - 1
		}
		s.outboxCount.Add(1)
		s.outboxBytes.Add(int64(len(v)))
		return true
	})
	s.ages.loaded(first, time.Now())
	return err
}

func bytesToU64(b []byte) uint64 {
	var x uint64
	for _, c := range b[:8] {
		x = x<<8 | uint64(c)
	}
	return x
}

// Store is the store under the state.
func (s *State) Store() Store { return s.store }

// Close stops background work and closes the store.
func (s *State) Close() error {
	if s.stop != nil {
		close(s.stop)
		<-s.done
		s.stop = nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cache.c.Close()
	return s.store.Close()
}

// scanAny visits keys with the prefix in key order, or, on a shared
// store, in any order (see Shared.ScanUnordered).
func (s *State) scanAny(prefix []byte, fn func(key, val []byte) bool) error {
	if s.shared != nil {
		return s.shared.ScanUnordered(prefix, fn)
	}
	return s.store.Scan(prefix, fn)
}

// Counters of one batch.
type Counters struct {
	Checked, Novel, Learning, Backfilled int
	CacheHits, StoreReads                int
	// Held events for ordering, events released (decided, and counted
	// above, at release), and candidates released as known: an earlier
	// event of their tuple arrived after them.
	Held, Released, Cancelled int
}

// Batch is the work of one flush: checks, then one atomic commit.
type Batch struct {
	s         *State
	learnOnly bool
	pending   map[entryKey]*entry
	order     []entryKey // write order, for a deterministic commit
	rules     map[uint64]*ruleRecord
	alerts    [][]byte
	buf, key  []byte // scratch
	err       error  // the store is out of service
	Counters  Counters
	// CommitNumber is the shared store's number of this batch's commit, once
	// committed (Committed.Number): 0 on the embedded store, or when
	// nothing was written.
	CommitNumber uint64
	// local are the buckets of tuple records this batch created, offered
	// to the cache at its commit (cache.go).
	local map[uint64]*bucket
	// prefetched are tuple records a shared store returned for the
	// batch's cache misses in one round trip (nil: absent).
	prefetched map[entryKey][]byte

	// Held events (hold.go).
	holding      bool // the window is on, or events are held
	staged       map[entryKey][]*heldItem
	stagedOrder  []entryKey
	stagedN      int
	awaiting     map[int]*heldItem // live candidates by check number
	releaseAll   bool
	releaseRules map[uint64]bool
}

// Begin starts a batch; until Commit or Abort, other batches wait. A
// learn-only batch records tuples and coverage but decides nothing novel
// (a backfill). When the store is out of service (see heal), the batch's
// Check and Commit return the error.
func (s *State) Begin(learnOnly bool) *Batch {
	s.mu.Lock()
	b := &Batch{s: s, learnOnly: learnOnly, pending: map[entryKey]*entry{}, rules: map[uint64]*ruleRecord{}, err: s.heal()}
	b.holding = s.opts.MaxLateness > 0 || len(s.held) > 0
	return b
}

// healer is a store that can be taken out of service by a failure it
// cannot go on from, and reopened.
type healer interface {
	heal() (reopened bool, err error)
}

// heal reopens a failed store (under mu). A commit that failed may or may
// not have reached the disk, so what the state keeps in memory is read
// again, and the cache, which may lack its writes, is emptied.
func (s *State) heal() error {
	h, ok := s.store.(healer)
	if !ok {
		return nil
	}
	reopened, err := h.heal()
	if err != nil || !reopened {
		return err
	}
	s.cache.c.Clear()
	if err := s.load(); err != nil {
		return fmt.Errorf("state: reopened: %w", err)
	}
	return nil
}

// rule returns the batch's working copy of a rule's record.
func (b *Batch) rule(rh uint64, r Rule) *ruleRecord {
	if rec, ok := b.rules[rh]; ok {
		return rec
	}
	rec := &ruleRecord{key: r.Key, name: r.Name, window: r.Window.Milliseconds(), earliest: noTime, highWater: noTime}
	if c, ok := b.s.rules[rh]; ok {
		*rec = *c
		rec.window, rec.name = r.Window.Milliseconds(), r.Name
	}
	b.rules[rh] = rec
	return rec
}

const noTime = int64(-1 << 63)

// Check decides on one tuple of a rule for an event at time t, and records
// it. Tuples repeated within the batch see the batch's own records.
func (b *Batch) Check(r Rule, tuple []string, t time.Time, eventID string) (Decision, error) {
	if b.err != nil {
		return Known, b.err
	}
	ms := t.UnixMilli()
	rh := ruleHash(r.Key)
	th, buf := tupleHash(b.buf, tuple)
	b.buf = buf
	k := makeEntryKey(rh, th)
	window := r.Window.Milliseconds()
	rec := b.rule(rh, r)
	if rec.earliest == noTime || ms < rec.earliest {
		rec.earliest = ms
	}
	if ms > rec.highWater {
		rec.highWater = ms
	}
	b.Counters.Checked++
	if b.holding {
		// Before the cache or the store: their record does not know the
		// held events.
		if committed, staged := b.heldOf(k); len(committed)+len(staged) > 0 {
			return b.join(k, th, r, tuple, ms, eventID)
		}
	}

	cur, found, err := b.lookup(k, th)
	if err != nil {
		return Known, err
	}
	if found && ms-cur.last <= window {
		b.known(k, cur, ms, r.Window, tuple)
		return Known, nil
	}
	if b.holding && b.onTime(rec, ms) {
		it := b.newHeld(ms, eventID, tuple)
		it.flags |= heldCandidate
		return b.stage(k, it), nil
	}
	return b.novel(k, ms, window, rec.earliest, eventID, tuple, b.learnOnly), nil
}

// onTime: the reorder window is on and the event is within it.
func (b *Batch) onTime(rec *ruleRecord, ms int64) bool {
	d := b.s.opts.MaxLateness.Milliseconds()
	return d > 0 && ms >= rec.highWater-d
}

// known records a known tuple as Check does: out of order, it moves
// first_seen back; in order, it refreshes last_seen once it has moved by
// more than the granularity.
func (b *Batch) known(k entryKey, cur entry, ms int64, window time.Duration, tuple []string) {
	gran := b.s.opts.Granularity(window).Milliseconds()
	cur.window = window
	switch {
	case ms < cur.first:
		cur.first = ms
		cur.movedFirst = true
		b.write(k, cur, tuple, true)
	case ms-cur.last > gran:
		cur.last = ms
		cur.movedLast = true
		b.write(k, cur, tuple, true)
	}
}

// novel records a new tuple, or a new episode of one, and decides whether
// it alerts; earliest is its rule's earliest event time. Check and the
// release of held events share it.
func (b *Batch) novel(k entryKey, ms, window, earliest int64, eventID string, tuple []string, learnOnly bool) Decision {
	d := Novel
	switch {
	case learnOnly:
		b.Counters.Backfilled++
		d = Backfilled
	case !b.s.opts.NoLearning && earliest > ms-window:
		b.Counters.Learning++
		d = Learning
	default:
		b.Counters.Novel++
	}
	// On a shared store the decision is checked again on the server: it
	// holds while the tuple's last_seen there is before ms - window (and,
	// for learning, the rule's earliest after it).
	b.write(k, entry{first: ms, last: ms, eventID: eventID, created: true, before: ms - window, learning: d == Learning,
		window: time.Duration(window) * time.Millisecond}, tuple, false)
	return d
}

// lookup finds a tuple's record: the batch's own, the cache, the store.
// The returned entry may lack eventID and tuple when it came from the
// cache; write fills them from the store when it must.
func (b *Batch) lookup(k entryKey, th xxh3.Uint128) (entry, bool, error) {
	if e, ok := b.pending[k]; ok {
		return *e, true, nil
	}
	if first, last, ok := b.cacheGet(k); ok {
		b.Counters.CacheHits++
		return entry{first: first, last: last}, true, nil
	}
	b.Counters.StoreReads++
	v, found, err := b.prefetched[k], false, error(nil)
	if _, ok := b.prefetched[k]; ok {
		found = v != nil
	} else {
		v, found, err = b.storeGet(k)
	}
	if err != nil || !found {
		return entry{}, false, err
	}
	first, last, err := decodeTimes(v)
	if err != nil {
		return entry{}, false, fmt.Errorf("state: tuple %x: %w", b.key[1:], err)
	}
	b.cachePut(k, first, last)
	return entry{first: first, last: last, stored: v}, true, nil
}

// storeGet reads a tuple record. The key is copied to scratch first: a
// slice of k handed to the Store interface would move k to the heap on
// every check, cached or not.
func (b *Batch) storeGet(k entryKey) ([]byte, bool, error) {
	b.key = append(b.key[:0], k[:]...)
	return b.s.store.Get(b.key)
}

// write stages a record. A refresh keeps the stored first event id and
// values: from the record lookup read, or, when the cache answered, by
// reading it now.
func (b *Batch) write(k entryKey, e entry, tuple []string, refresh bool) {
	if refresh && e.tuple == nil && (e.stored != nil || b.s.shared == nil) {
		// A shared store keeps the stored id and values itself (the
		// refresh merges times only): no read for them.
		v := e.stored
		if v == nil {
			v, _, _ = b.storeGet(k) // absent or unreadable: the values below stand in
		}
		if old, err := decodeEntry(v); err == nil {
			e.eventID, e.tuple = old.eventID, old.tuple
		}
	}
	e.stored = nil
	if e.tuple == nil {
		e.tuple = make([]string, len(tuple))
		for i, v := range tuple {
			e.tuple[i] = strings.Clone(v)
		}
	}
	e.eventID = strings.Clone(e.eventID)
	if p, ok := b.pending[k]; ok {
		*p = e
		return
	}
	b.pending[k] = &e
	b.order = append(b.order, k)
}

// AddAlert puts an alert document into the outbox, in this batch's commit.
func (b *Batch) AddAlert(doc []byte) {
	b.alerts = append(b.alerts, bytes.Clone(doc))
}

// Empty reports whether the batch's checks and alerts leave nothing to
// commit (held events its commit may release aside).
func (b *Batch) Empty() bool {
	return len(b.pending) == 0 && len(b.alerts) == 0 && len(b.staged) == 0 && !b.rulesChanged()
}

func (b *Batch) rulesChanged() bool {
	for rh, rec := range b.rules {
		if b.s.ruleNeedsWrite(rh, rec) {
			return true
		}
	}
	return false
}

// ruleNeedsWrite: a rule record is written when anything but its high-water
// changed, or the high-water moved by more than the granularity (it only
// paces expiry, so it may lag on disk).
func (s *State) ruleNeedsWrite(rh uint64, rec *ruleRecord) bool {
	c, ok := s.written[rh]
	if !ok {
		return true
	}
	gran := s.opts.Granularity(time.Duration(rec.window) * time.Millisecond).Milliseconds()
	return c.earliest != rec.earliest || c.window != rec.window || c.key != rec.key || c.name != rec.name ||
		rec.highWater-c.highWater > gran
}

// ErrDone is returned by a second Commit or Abort.
var ErrDone = errors.New("state batch already finished")

// Commit writes the batch atomically and durably, then lets the next batch
// run. A batch with nothing to write commits nothing. On error nothing was
// written.
func (b *Batch) Commit() error {
	s := b.s
	if s == nil {
		return ErrDone
	}
	defer b.finish()
	if b.err != nil {
		return b.err
	}
	var held *releasePlan
	if b.holding {
		var err error
		if held, err = b.release(); err != nil {
			return err
		}
	}
	if b.Empty() && held.empty() {
		held.applied(s, b.stagedN) // events held and released at once
		b.keepRules()
		return nil
	}
	if s.shared != nil {
		return b.commitShared()
	}
	var w Writes
	for _, k := range b.order {
		w.Set(k[:], b.pending[k].encode(nil))
	}
	var written []uint64
	for rh, rec := range b.rules {
		if s.ruleNeedsWrite(rh, rec) {
			w.Set(ruleKeyBytes(rh), rec.encode())
			written = append(written, rh)
		}
	}
	var bytes int64
	for i, doc := range b.alerts {
		w.Set(outboxKey(s.nextSeq+uint64(i)), doc)
		bytes += int64(len(doc))
	}
	held.write(&w)
	if err := s.store.Apply(&w); err != nil {
		return fmt.Errorf("state: commit: %w", err)
	}
	if s.commits++; s.commits%32 == 0 {
		s.opts.ReleaseCMemory()
	}
	if len(b.alerts) > 0 {
		s.ages.added(s.nextSeq, time.Now())
	}
	s.nextSeq += uint64(len(b.alerts))
	s.outboxCount.Add(int64(len(b.alerts)))
	s.outboxBytes.Add(bytes)
	held.applied(s, b.stagedN)
	b.keepRules()
	for _, rh := range written {
		c := *b.rules[rh]
		s.written[rh] = &c
	}
	b.cacheWrites()
	return nil
}

// cacheWrites puts a committed batch's records into the cache: into
// the buckets it holds, in place, or into new ones offered to it.
func (b *Batch) cacheWrites() {
	for _, k := range b.order {
		e := b.pending[k]
		b.cachePut(k, e.first, e.last)
	}
	b.offerLocal()
}

// commitShared commits to a shared store: tuples decided new with the
// condition under which the decision holds, refreshes as merges, every
// rule record of the batch to merge. On a conflict nothing was applied:
// the cache forgets the tuples another node wrote (and the rule records
// are read again if coverage moved), and the error matches ErrConflict,
// so that the caller decides the batch again.
func (b *Batch) commitShared() error {
	s := b.s
	c := &Commit{Alerts: b.alerts}
	for _, k := range b.order {
		e := b.pending[k]
		val := e.encode(nil)
		if e.created {
			c.Created = append(c.Created, Created{Key: k[:], Val: val, Before: e.before, Learning: e.learning, Window: e.window})
			continue
		}
		r := Refreshed{Key: k[:], First: noTime, Last: noTime, Val: val, Window: e.window}
		if e.movedFirst {
			r.First = e.first
		}
		if e.movedLast {
			r.Last = e.last
		}
		c.Refreshed = append(c.Refreshed, r)
	}
	// Every rule of the batch, changed or not: merging is idempotent, and
	// a server that lost its data (restarted without persistence) gets
	// the rules' coverage back from the nodes.
	for rh, rec := range b.rules {
		c.Rules = append(c.Rules, RuleWrite{Key: ruleKeyBytes(rh), Val: rec.encode()})
	}
	done, err := s.shared.Commit(c)
	if err != nil {
		var ce *ConflictError
		if errors.As(err, &ce) {
			s.forget(ce.Keys)
			if ce.Rules {
				if rerr := s.reloadRules(b.rules); rerr != nil {
					err = errors.Join(err, rerr)
				}
			}
		}
		return fmt.Errorf("state: commit: %w", err)
	}
	s.commits++
	b.CommitNumber = done.Number
	var bytes int64
	for _, doc := range b.alerts {
		bytes += int64(len(doc))
	}
	s.outboxCount.Add(int64(len(b.alerts)))
	s.outboxBytes.Add(bytes)
	b.keepRules()
	for key, v := range done.Rules {
		rec, err := decodeRule(v)
		if err != nil {
			return fmt.Errorf("state: rule record %x on the server: %w", key, err)
		}
		rh := bytesToU64([]byte(key)[1:])
		r, w := rec, rec
		s.rules[rh], s.written[rh] = &r, &w
	}
	b.cacheWrites()
	return nil
}

// reloadRules reads the records of the given rules from the store again:
// another node moved their coverage.
func (s *State) reloadRules(rules map[uint64]*ruleRecord) error {
	for rh := range rules {
		v, found, err := s.store.Get(ruleKeyBytes(rh))
		if err != nil {
			return err
		}
		if !found {
			continue
		}
		rec, err := decodeRule(v)
		if err != nil {
			return fmt.Errorf("state: rule record %x: %w", rh, err)
		}
		r, w := rec, rec
		s.rules[rh], s.written[rh] = &r, &w
	}
	return nil
}

// Prefetch reads, in one round trip, the records of the tuples that the
// batch will check and that the cache does not hold, when the store is
// shared (a round trip per cache miss would cost more than the checks);
// a no-op otherwise. checks yields each check's rule key and tuple.
func (b *Batch) Prefetch(checks iter.Seq2[string, []string]) error {
	if b.s.shared == nil || b.err != nil {
		return nil
	}
	var keys [][]byte
	var eks []entryKey
	want := map[entryKey]bool{}
	for rule, tuple := range checks {
		th, buf := tupleHash(b.buf, tuple)
		b.buf = buf
		k := makeEntryKey(ruleHash(rule), th)
		if _, ok := b.pending[k]; ok || want[k] {
			continue
		}
		if _, ok := b.prefetched[k]; ok {
			continue
		}
		if _, _, ok := b.cacheGet(k); ok {
			continue
		}
		want[k] = true
		eks = append(eks, k)
		keys = append(keys, eks[len(eks)-1][:])
	}
	if len(keys) == 0 {
		return nil
	}
	vals, err := b.s.shared.GetMany(keys)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if b.prefetched == nil {
		b.prefetched = make(map[entryKey][]byte, len(keys))
	}
	for i, k := range eks {
		b.prefetched[k] = vals[i]
	}
	return nil
}

// keepRules makes the batch's rule records the committed ones, and notes
// when a watermark moved (ReleaseIdle).
func (b *Batch) keepRules() {
	s := b.s
	var now time.Time
	for rh, rec := range b.rules {
		if b.holding {
			if c, ok := s.rules[rh]; !ok || rec.highWater > c.highWater {
				if now.IsZero() {
					now = time.Now()
				}
				s.advanced[rh] = now
			}
		}
		s.rules[rh] = rec
	}
}

// Abort drops the batch.
func (b *Batch) Abort() {
	if b.s != nil {
		b.finish()
	}
}

func (b *Batch) finish() {
	b.s.mu.Unlock()
	b.s = nil
}

// DiskUsage is the space the state takes on disk, in bytes; false when
// its store cannot tell (a store other than the embedded one, or one out
// of service).
func (s *State) DiskUsage() (int64, bool) {
	d, ok := s.store.(interface{ diskUsage() (int64, error) })
	if !ok {
		return 0, false
	}
	n, err := d.diskUsage()
	return n, err == nil
}

// HeapShare is the Go heap one state needs: the cache's entries plus 24
// MiB for batches. The programs that own the runtime (the plugin, the CLI)
// limit the heap to the sum of their states' shares: without a limit the
// heap grows to twice the cache between collections; with it, at 10
// million tuples, collection took 2% of the time.
func HeapShare(cacheSize int64) int64 {
	if cacheSize <= 0 {
		cacheSize = DefaultCacheSize
	}
	return cacheSize + 24<<20
}
