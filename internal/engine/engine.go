// Package engine runs the whole detection on batches of records: decode
// and normalize, enrich, match rules, build term tuples, check them against
// the seen state, and put one alert per novel tuple into the outbox, all in
// one atomic commit per batch. It is the same engine behind the Fluent Bit
// plugin and the CLI.
package engine

import (
	"errors"
	"fmt"
	"iter"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/newterms/newterms/internal/alert"
	"github.com/newterms/newterms/internal/asn"
	"github.com/newterms/newterms/internal/cloudtrail"
	"github.com/newterms/newterms/internal/logx"
	"github.com/newterms/newterms/internal/prefilter"
	"github.com/newterms/newterms/internal/rules"
	"github.com/newterms/newterms/internal/seen"
)

// Options are what the program supplies beyond the user's settings.
type Options struct {
	// LearnOnly records tuples and coverage without alerting (backfill).
	LearnOnly bool
	// Log reports background events and failures; nil discards.
	Log logx.Func
	// Granularity overrides the seen state's last_seen granularity (tests).
	Granularity func(time.Duration) time.Duration
	// Store replaces the embedded pebble store under the seen state.
	Store seen.Store
	// ReleaseCMemory is seen.Options.ReleaseCMemory: the program's way to
	// hand C memory freed by pebble back to the system; nil does nothing.
	ReleaseCMemory func()
}

// Engine is safe for concurrent use: batches from several Fluent Bit
// workers may be processed at once.
type Engine struct {
	cfg     Config
	opts    Options
	set     *rules.Set
	report  *rules.Report
	asn     *asn.DB
	state   *seen.State
	filter  *prefilter.Filter // nil: every record is parsed
	prefRep prefilter.Report
	workers sync.Pool
	stats   stats
	// hook, when set (tests), is called at each stage of an event's work:
	// the way to inject a panic where a poison record would cause one.
	hook func(stage string, ev *cloudtrail.Event)
}

// worker holds what one goroutine reuses from batch to batch.
type worker struct {
	dec    *cloudtrail.Decoder
	doc    *rules.Doc
	recs   []Record // the batch's records that passed the prefilter
	recNo  []int    // each one's number in the batch, for errors
	cur    int      // the record whose tuples or alerts are being decided
	arena  []byte   // tuple values and event ids of the batch
	strs   []string // tuples, as slices of this
	checks []pending
	alerts alert.Builder
	docBuf []byte                                   // the alert document being built
	enrich func(*cloudtrail.Event) rules.Enrichment // e.enrich, made once
	commit uint64                                   // the last batch's commit number (Result.Commit)
}

// New checks the settings, loads rules, opens the ASN database and the
// seen state.
func New(cfg Config, opts Options) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxTuples == 0 {
		cfg.MaxTuples = DefaultMaxTuples
	}
	var extra []*rules.Rule
	if cfg.Inline != nil {
		extra = append(extra, cfg.Inline)
	}
	set, rep, err := rules.LoadWith(extra, cfg.Rules...)
	if err != nil {
		return nil, err
	}
	if len(rep.Failed) > 0 {
		errs := make([]error, len(rep.Failed))
		for i, f := range rep.Failed {
			errs[i] = f
		}
		return nil, fmt.Errorf("rules: %d failed to load: %w", len(rep.Failed), errors.Join(errs...))
	}
	if len(set.Rules()) == 0 {
		return nil, errors.New("rules: no rule loaded: set rules (files or directories) or the rule_* keys")
	}
	e := &Engine{cfg: cfg, opts: opts, set: set, report: rep}
	e.filter, e.prefRep = prefilter.Build(set)
	if !cfg.Prefilter {
		e.filter = nil
	}
	if cfg.ASNDatabase != "" {
		if e.asn, err = asn.Open(cfg.ASNDatabase, asn.Options{ReloadInterval: cfg.ASNReloadInterval, Log: opts.Log}); err != nil {
			return nil, err
		}
	} else {
		for _, r := range set.Rules() {
			if r.NeedsASN() {
				opts.Log.Warnf("rule %q reads source.as.* but no asn_database is set: it cannot match or give tuples", r.Name)
			}
		}
	}
	store := opts.Store
	if store == nil && cfg.StateBackend == BackendRedis {
		if store, err = seen.OpenRedis(seen.RedisOptions{Address: cfg.Redis.Address, Password: cfg.Redis.Password,
			KeyPrefix: cfg.Redis.KeyPrefix, Timeout: cfg.Redis.Timeout, Log: opts.Log}); err != nil {
			e.asn.Close()
			return nil, err
		}
	}
	e.state, err = seen.Open(seen.Options{
		Dir: cfg.StateDir, CacheSize: cfg.CacheSize, NoLearning: !cfg.Learning,
		Granularity: opts.Granularity, Log: opts.Log, Store: store, MaxLateness: cfg.MaxLateness,
		ReleaseCMemory: opts.ReleaseCMemory,
	})
	if err != nil {
		e.asn.Close()
		return nil, err
	}
	e.stats.init(set)
	e.workers.New = func() any { return e.newWorker() }
	return e, nil
}

func (e *Engine) newWorker() *worker {
	return &worker{
		dec:    cloudtrail.NewDecoder(cloudtrail.Options{MaxRecordSize: e.cfg.MaxRecordSize}),
		doc:    e.set.NewDoc(),
		enrich: e.enrich,
	}
}

// Record is one record's CloudTrail text: JSON, or base64/gzip of it, in
// any envelope the decoder knows (the plugin takes it from a record key, or
// renders the Fluent Bit record as JSON).
type Record struct {
	Data []byte
}

// Result tells the caller (the plugin) what became of a batch.
type Result struct {
	Records, Events, Alerts int
	// Commit orders the batches of all nodes on a shared state: their
	// decisions are those of the batches run one after the other in this
	// order (0: the embedded state, or a batch that wrote nothing).
	Commit uint64
	// Errors are the bad records, counted and skipped; they never fail
	// the batch.
	Errors []RecordError
}

// RecordError is what went wrong with one record of a batch.
type RecordError struct {
	Record int // 1-based, in the order the batch gave them
	Err    error
}

func (e RecordError) Error() string { return fmt.Sprintf("record %d: %v", e.Record, e.Err) }
func (e RecordError) Unwrap() error { return e.Err }

// PanicError is a panic caught while one record was processed: the record
// is skipped and counted, the rest of its batch goes on.
type PanicError struct{ Value any }

func (e PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Process runs one batch. A non-nil error means nothing was committed and
// the batch may be retried (FLB_RETRY); bad records are not errors.
func (e *Engine) Process(recs []Record) (Result, error) { return e.ProcessSeq(slices.Values(recs)) }

// ProcessSeq is Process over records produced one at a time, so that each
// is filtered while its bytes are still in cache (the plugin decodes its
// chunk as the engine goes). Records must stay valid until it returns.
//
// Parsing and matching run before the batch takes the state's lock, so
// that concurrent batches (Fluent Bit workers) parse in parallel; only the
// checks, the alerts and the commit are serialized. The few events that
// turn out novel are decoded again for their alert documents.
func (e *Engine) ProcessSeq(recs iter.Seq[Record]) (Result, error) {
	return e.commit(e.prepare(recs, false))
}

// prepare parses, enriches and matches a batch, without the state: batches
// may be prepared in parallel. times also gathers the batch's event-time
// range (Prepare).
func (e *Engine) prepare(recs iter.Seq[Record], times bool) *Prepared {
	w := e.workers.Get().(*worker)
	w.reset()
	p := &Prepared{w: w}
	res := &p.res
	// One callback for the whole batch: the decoder keeps it, so a closure
	// made per record would be an allocation per record.
	var ordinal int
	onEvent := func(ev *cloudtrail.Event) {
		res.Events++
		if times {
			if t, ok := ev.Time(); ok {
				p.span(t)
			}
		}
		e.collect(w, ev, len(w.recs)-1, ordinal)
		ordinal++
	}
	for rec := range recs {
		res.Records++
		if !e.filter.MayMatch(rec.Data) {
			e.stats.prefiltered.Add(1)
			if times {
				if t, ok := rawEventTime(rec.Data); ok {
					p.span(t)
				}
			}
			continue
		}
		w.recs, w.recNo = append(w.recs, rec), append(w.recNo, res.Records)
		ordinal = 0
		events := res.Events
		r, perr := e.decodeOne(w, rec, onEvent)
		e.stats.decoded(&r)
		for _, err := range r.Errors {
			res.Errors = append(res.Errors, RecordError{res.Records, err})
		}
		if perr != nil {
			res.Events = events
			res.Errors = append(res.Errors, RecordError{res.Records, *perr})
		}
	}
	return p
}

// commit decides a prepared batch under the state's lock and commits it.
func (e *Engine) commit(p *Prepared) (Result, error) {
	w, res := p.w, p.res
	p.w = nil
	defer e.workers.Put(w)
	// A panic while deciding skips the record it came from, and the batch
	// runs again without it: its state changes and alerts are never half
	// committed, and the lock is released on every path. On a shared
	// state, a commit that another node's write contradicts applied
	// nothing: the batch decides again from fresh reads, a bounded number
	// of times (each conflict means another node committed, so they end;
	// past the bound the chunk is retried later).
	for conflicts := 0; ; {
		alerts, p, err := e.decide(w)
		if errors.Is(err, seen.ErrConflict) && conflicts < MaxConflictRetries {
			conflicts++
			e.stats.conflicts.Add(1)
			continue
		}
		if err != nil {
			return Result{}, err
		}
		if p == nil {
			res.Alerts, res.Commit = alerts, w.commit
			break
		}
		e.stats.panics.Add(1)
		res.Errors = append(res.Errors, RecordError{w.recNo[w.cur], *p})
		w.drop(w.cur)
	}
	e.stats.records.Add(int64(res.Records))
	e.stats.events.Add(int64(res.Events))
	e.stats.alerts.Add(int64(res.Alerts))
	return res, nil
}

// decodeOne decodes and matches one record. A panic in it skips the
// record: its tuples are taken back and the decoder, whose buffers it may
// have left half written, is replaced.
func (e *Engine) decodeOne(w *worker, rec Record, fn func(*cloudtrail.Event)) (r cloudtrail.Result, perr *PanicError) {
	checks, strs, arena := len(w.checks), len(w.strs), len(w.arena)
	defer func() {
		if v := recover(); v != nil {
			e.stats.panics.Add(1)
			perr = &PanicError{v}
			w.checks, w.strs, w.arena = w.checks[:checks], w.strs[:strs], w.arena[:arena]
			w.recs, w.recNo = w.recs[:len(w.recs)-1], w.recNo[:len(w.recNo)-1]
			fresh := e.newWorker()
			w.dec, w.doc = fresh.dec, fresh.doc
		}
	}()
	return w.decode(rec, fn), nil
}

// decide checks the batch's tuples, builds its alerts and commits, under
// the state's lock. A panic aborts the batch and names the record whose
// work it interrupted (w.cur).
func (e *Engine) decide(w *worker) (alerts int, perr *PanicError, err error) {
	w.cur, w.commit = -1, 0
	b := e.state.Begin(e.opts.LearnOnly)
	defer func() {
		if v := recover(); v != nil {
			b.Abort()
			if w.cur < 0 { // not a record's: the batch fails and may be retried
				err = fmt.Errorf("state: commit: %w", PanicError{v})
				return
			}
			perr = &PanicError{v}
		}
	}()
	novel, held, err := e.check(w, b)
	if err == nil {
		err = e.alerts(w, b, novel, held)
	}
	if err != nil {
		b.Abort()
		return 0, nil, err
	}
	w.cur = -1
	start := time.Now()
	if err := b.Commit(); err != nil {
		return 0, nil, err
	}
	e.stats.commit(time.Since(start))
	w.commit = b.CommitNumber
	// Counted after the commit: it decides the held events it releases.
	e.stats.batch(&b.Counters)
	return b.Counters.Novel, nil, nil
}

// Release decides every event held for ordering (max_lateness) now: the
// input has ended. It returns the number of alerts put into the outbox.
func (e *Engine) Release() (int, error) {
	c, err := e.state.Release()
	return e.released(c, err)
}

// ReleaseIdle decides the held events of each rule whose newest event time
// has not moved for max_lateness of wall-clock time: the plugin calls it
// from a timer, so that a quiet stream, or a rule that rarely matches,
// does not hold its alerts back. It returns the number of alerts put into
// the outbox.
func (e *Engine) ReleaseIdle() (int, error) {
	if e.cfg.MaxLateness <= 0 {
		return 0, nil
	}
	c, err := e.state.ReleaseIdle(e.cfg.MaxLateness, time.Now())
	return e.released(c, err)
}

func (e *Engine) released(c seen.Counters, err error) (int, error) {
	if err != nil {
		return 0, fmt.Errorf("releasing held events: %w", err)
	}
	e.stats.batch(&c)
	e.stats.alerts.Add(int64(c.Novel))
	return c.Novel, nil
}

// MaxConflictRetries bounds how often one batch decides again after a
// conflict on a shared state before it fails (FLB_RETRY).
const MaxConflictRetries = 8

// drop takes a record's tuples out of the batch.
func (w *worker) drop(rec int) {
	w.checks = slices.DeleteFunc(w.checks, func(c pending) bool { return c.rec == rec })
}

// pending is one tuple to check, gathered before the state's lock.
type pending struct {
	rule    *rules.Rule
	tuple   []string // copied into the worker's arena
	t       time.Time
	eventID string
	rec     int // which of the worker's records
	ordinal int // which event of the record
}

func (w *worker) reset() {
	clear(w.recs) // they borrow the caller's memory
	w.recs, w.recNo, w.arena, w.strs, w.checks = w.recs[:0], w.recNo[:0], w.arena[:0], w.strs[:0], w.checks[:0]
}

func (w *worker) decode(rec Record, fn func(*cloudtrail.Event)) cloudtrail.Result {
	return w.dec.Decode(rec.Data, fn)
}

// keep copies a string out of the decoder's buffers into the arena, which
// lives until the batch ends: growing it leaves earlier strings intact.
func (w *worker) keep(s string) string {
	if s == "" {
		return ""
	}
	start := len(w.arena)
	w.arena = append(w.arena, s...)
	return unsafe.String(&w.arena[start], len(s))
}

// collect matches one event and gathers its term tuples.
func (e *Engine) collect(w *worker, ev *cloudtrail.Event, rec, ordinal int) {
	if e.hook != nil {
		e.hook("match", ev)
	}
	w.doc.ResetLazy(ev, w.enrich)
	t, hasTime := ev.Time()
	var id string
	e.set.Match(w.doc, func(r *rules.Rule) {
		e.stats.matched[r.Key].Add(1)
		if !hasTime {
			e.stats.noTime.Add(1)
			return
		}
		overflow := r.Terms(w.doc, e.cfg.MaxTuples, func(tuple []string) {
			if id == "" {
				id = w.keep(ev.ID())
			}
			start := len(w.strs)
			for _, v := range tuple {
				w.strs = append(w.strs, w.keep(v))
			}
			w.checks = append(w.checks, pending{rule: r, tuple: w.strs[start:len(w.strs):len(w.strs)], t: t, eventID: id, rec: rec, ordinal: ordinal})
		})
		e.stats.overflow.Add(int64(overflow))
	})
}

// check decides on every gathered tuple, in order; it returns the ones that
// need an alert document: novel, or held as candidates (in a live batch).
// held[j] tells which novel[j] is.
func (e *Engine) check(w *worker, b *seen.Batch) (novel []int, held []bool, err error) {
	// A shared state reads the cache misses of the whole batch at once.
	err = b.Prefetch(func(yield func(string, []string) bool) {
		for i := range w.checks {
			if !yield(w.checks[i].rule.Key, w.checks[i].tuple) {
				return
			}
		}
	})
	if err != nil {
		return nil, nil, err
	}
	for i := range w.checks {
		c := &w.checks[i]
		w.cur = c.rec
		d, err := b.Check(seen.Rule{Key: c.rule.Key, Name: c.rule.Name, Window: c.rule.Window}, c.tuple, c.t, c.eventID)
		if err != nil {
			return nil, nil, err
		}
		if d == seen.Novel || d == seen.Held && !e.opts.LearnOnly {
			novel, held = append(novel, i), append(held, d == seen.Held)
		}
	}
	return novel, held, nil
}

// alerts builds the alert of each novel or held tuple from its event,
// decoded again, and puts it into the batch's outbox, or hands it to the
// batch with the held event (check i of the batch is w.checks[i]).
func (e *Engine) alerts(w *worker, b *seen.Batch, novel []int, held []bool) error {
	for len(novel) > 0 {
		rec := w.checks[novel[0]].rec
		w.cur = rec
		same := 0
		for same < len(novel) && w.checks[novel[same]].rec == rec {
			same++
		}
		ordinal := 0
		var err error
		w.decode(w.recs[rec], func(ev *cloudtrail.Event) {
			for j, i := range novel[:same] {
				c := &w.checks[i]
				if c.ordinal != ordinal || err != nil {
					continue
				}
				if e.hook != nil {
					e.hook("alert", ev)
				}
				// The batch copies the document: the buffer serves the next.
				w.docBuf = w.alerts.Append(w.docBuf[:0], alert.Input{Rule: c.rule, Tuple: c.tuple, Event: ev, Enrichment: e.enrich(ev), IncludeOriginal: e.cfg.IncludeOriginal})
				if held[j] {
					err = b.HoldAlert(i, w.docBuf)
				} else {
					b.AddAlert(w.docBuf)
				}
			}
			ordinal++
		})
		if err != nil {
			return err
		}
		novel, held = novel[same:], held[same:]
	}
	return nil
}

func (e *Engine) enrich(ev *cloudtrail.Event) rules.Enrichment { return Enrich(e.asn, ev) }

// Enrich looks the event's source address up in the ASN database (nil: no
// enrichment). Only a literal IP in sourceIPAddress is looked up.
func Enrich(db *asn.DB, ev *cloudtrail.Event) rules.Enrichment {
	if db == nil {
		return rules.Enrichment{}
	}
	ip, ok := ev.SourceIP()
	if !ok {
		return rules.Enrichment{}
	}
	info, found := db.Lookup(ip)
	return rules.Enrichment{HasAS: found, ASNumber: info.Number, ASOrg: info.Org}
}

// Prefilter says whether records are filtered before parsing, and why not.
func (e *Engine) Prefilter() prefilter.Report {
	r := e.prefRep
	r.Enabled = e.filter != nil
	return r
}

// State is the seen state, whose outbox the sender drains.
func (e *Engine) State() *seen.State { return e.state }

// Rules are the loaded rules; Report says how loading went.
func (e *Engine) Rules() *rules.Set     { return e.set }
func (e *Engine) Report() *rules.Report { return e.report }

// Close closes the state and the ASN database.
func (e *Engine) Close() error {
	err := e.state.Close()
	e.asn.Close()
	return err
}

// stats are the engine's counters, safe for concurrent batches.
type stats struct {
	records, events, alerts, noTime, overflow atomic.Int64
	prefiltered                               atomic.Int64
	checked, novel, learning, backfilled      atomic.Int64
	cacheHits, storeReads                     atomic.Int64
	insights, digests, notifications, control atomic.Int64
	commits, commitNanos, commitMaxNanos      atomic.Int64
	commitBuckets                             [len(CommitBuckets) + 1]atomic.Int64
	panics                                    atomic.Int64
	conflicts                                 atomic.Int64
	mu                                        sync.Mutex
	parseErrors                               map[cloudtrail.ErrorKind]int64
	matched                                   map[string]*atomic.Int64 // by rule key; fixed at init
	names, ids                                map[string]string
}

func (s *stats) init(set *rules.Set) {
	s.parseErrors = map[cloudtrail.ErrorKind]int64{}
	s.matched = map[string]*atomic.Int64{}
	s.names, s.ids = map[string]string{}, map[string]string{}
	for _, r := range set.Rules() {
		s.matched[r.Key] = new(atomic.Int64)
		s.names[r.Key], s.ids[r.Key] = r.Name, r.ID
	}
}

func (s *stats) decoded(r *cloudtrail.Result) {
	s.insights.Add(int64(r.Insights))
	s.digests.Add(int64(r.Digests))
	s.notifications.Add(int64(r.Notifications))
	s.control.Add(int64(r.Control))
	if len(r.Errors) > 0 {
		s.mu.Lock()
		for _, err := range r.Errors {
			s.parseErrors[err.Kind]++
		}
		s.mu.Unlock()
	}
}

func (s *stats) batch(c *seen.Counters) {
	s.checked.Add(int64(c.Checked))
	s.novel.Add(int64(c.Novel))
	s.learning.Add(int64(c.Learning))
	s.backfilled.Add(int64(c.Backfilled))
	s.cacheHits.Add(int64(c.CacheHits))
	s.storeReads.Add(int64(c.StoreReads))
}

func (s *stats) commit(d time.Duration) {
	s.commits.Add(1)
	s.commitNanos.Add(int64(d))
	i, _ := slices.BinarySearch(CommitBuckets[:], d)
	s.commitBuckets[i].Add(1)
	for {
		m := s.commitMaxNanos.Load()
		if int64(d) <= m || s.commitMaxNanos.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// Counters is a snapshot of everything a user would graph.
type Counters struct {
	Records, Events, Alerts int64
	Prefiltered             int64 // records no rule could match, skipped unparsed
	Insights, Digests       int64
	Notifications, Control  int64
	ParseErrors             map[string]int64 // by kind
	Matched                 []RuleCount      // events per rule, by name
	TuplesChecked, Novel    int64
	SuppressedLearning      int64
	Backfilled              int64
	TupleOverflow, NoTime   int64
	Panics                  int64 // records skipped because their work panicked
	Conflicts               int64 // batches decided again after a conflict on a shared state
	Held                    int64 // events held for ordering (max_lateness), now
	CacheHitRatio           float64
	CacheHits, StoreReads   int64 // tuple checks answered by the hot cache, and by the store
	Commits                 int64
	CommitMean, CommitMax   time.Duration
	// CommitLatency counts commits by duration: CommitLatency[i] those up
	// to CommitBuckets[i] (and above the bucket before), the last those
	// above every bucket.
	CommitLatency             [len(CommitBuckets) + 1]int64
	CommitTotal               time.Duration
	OutboxAlerts, OutboxBytes int64
	// OutboxOldest is when the oldest waiting alert was committed (zero:
	// none waits); see seen.State.OutboxOldest.
	OutboxOldest time.Time
	// StateBytes is the state's size on disk; -1 when its store cannot
	// tell.
	StateBytes int64
	Rules      int      // rules loaded
	ASN        asn.Meta // the database in service; zero without one
}

// CommitBuckets are the upper bounds of Counters.CommitLatency: a commit
// is one synced write, a fraction of a millisecond on a local SSD,
// tens of milliseconds on network storage.
var CommitBuckets = [...]time.Duration{
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond,
	25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2500 * time.Millisecond, 5 * time.Second,
}

// RuleCount is the number of events that matched one rule.
type RuleCount struct {
	Name, Key, ID string
	Events        int64
}

// Stats snapshots the counters.
func (e *Engine) Stats() Counters {
	s := &e.stats
	c := Counters{
		Records: s.records.Load(), Events: s.events.Load(), Alerts: s.alerts.Load(), Prefiltered: s.prefiltered.Load(),
		Insights: s.insights.Load(), Digests: s.digests.Load(), Notifications: s.notifications.Load(), Control: s.control.Load(),
		TuplesChecked: s.checked.Load(), Novel: s.novel.Load(), SuppressedLearning: s.learning.Load(),
		Backfilled: s.backfilled.Load(), TupleOverflow: s.overflow.Load(), NoTime: s.noTime.Load(), Panics: s.panics.Load(), Conflicts: s.conflicts.Load(),
		Commits: s.commits.Load(), CommitMax: time.Duration(s.commitMaxNanos.Load()),
		ParseErrors: map[string]int64{},
	}
	c.CacheHits, c.StoreReads = s.cacheHits.Load(), s.storeReads.Load()
	if c.CacheHits+c.StoreReads > 0 {
		c.CacheHitRatio = float64(c.CacheHits) / float64(c.CacheHits+c.StoreReads)
	}
	c.CommitTotal = time.Duration(s.commitNanos.Load())
	if c.Commits > 0 {
		c.CommitMean = c.CommitTotal / time.Duration(c.Commits)
	}
	for i := range c.CommitLatency {
		c.CommitLatency[i] = s.commitBuckets[i].Load()
	}
	s.mu.Lock()
	for k, n := range s.parseErrors {
		c.ParseErrors[string(k)] = n
	}
	s.mu.Unlock()
	for key, n := range s.matched {
		c.Matched = append(c.Matched, RuleCount{Name: s.names[key], Key: key, ID: s.ids[key], Events: n.Load()})
	}
	sort.Slice(c.Matched, func(i, j int) bool { return c.Matched[i].Name < c.Matched[j].Name })
	c.OutboxAlerts, c.OutboxBytes = e.state.OutboxSize()
	c.OutboxOldest = e.state.OutboxOldest()
	c.Held = e.state.HeldEvents()
	c.StateBytes = -1
	if n, ok := e.state.DiskUsage(); ok {
		c.StateBytes = n
	}
	c.Rules = len(e.set.Rules())
	c.ASN = e.asn.Meta()
	return c
}
