package seen

// The reorder window (Options.MaxLateness, D): decisions in event-time
// order although batches commit in any order (Fluent Bit workers, a
// backlog written at once).
//
// A rule's watermark is the newest event time it has checked (its record's
// high-water). An event at t is on time when t >= watermark - D. A tuple's
// stored record holds only released decisions. Check, while holding:
//
//   - a tuple with held events: the event joins them (a candidate, Held, if
//     it may turn out novel at release; else Known);
//   - no held events, the record says known: applied at once, as in
//     arrival order;
//   - no held events, the record says novel (or there is none), the event
//     on time: held as a candidate (Held); the engine hands its alert
//     document to HoldAlert;
//   - otherwise (late): decided at once, in arrival order.
//
// Each commit releases, per rule, the held events older than watermark - D
// and decides them in event-time order (time, then event id, then arrival:
// ties never depend on how batches interleave) against the released
// records, with the rule of the package doc; learning is judged then, with
// the rule's earliest time at release. Held events are stored under their
// own keys, added and deleted in the commit that holds or releases them,
// and indexed in memory (rebuilt at Open and after a reopen).
//
// Why, for events on time, the decisions are those of the whole stream
// processed in event-time order (with a granularity of 0; a larger one
// already makes last_seen, and so decisions at the window's edge, inexact
// by up to a granularity, in either order):
//
//  1. Nothing on time comes before a released event: an event released at
//     a commit is older than that watermark - D, and a later on-time event
//     is at least the (never lower) watermark - D. So a release never has
//     to be taken back, and among a tuple's released events, and the
//     events still held, arrival order is event-time order.
//  2. An event that joins its tuple's held events is ordered exactly: it is
//     released with them, sorted.
//  3. An event applied at once (its tuple holds nothing, its record says
//     known) is known in event-time order too, and applying it does what
//     event-time order does. Its record's episode began with a released
//     event, older than it (by 1). If it is newer than last_seen, an applied
//     event lies within a window before it. If older, no gap wider than a
//     window separates the applied events around it: the first-applied
//     event above such a gap found its record novel, so it was held, and
//     released novel; this event arrived after that release (before it,
//     it would have joined the held events), so it is newer (by 1), not
//     below the gap. An extra event only narrows gaps: known decisions stay
//     known, and every novel one of the tuple is older than it (by 1).
//  4. Learning: a rule's events that arrive after a release are newer than
//     the released event (by 1), so the rule's earliest time when it is
//     released is the earliest of all its events up to it.
//  5. A joining event is a candidate unless its predecessor (the newest of
//     the record's last_seen and the held events before it) lies within
//     window - granularity before it; the predecessor only moves forward
//     until its release, and last_seen lags the newest applied event by at
//     most a granularity, so an event that is not a candidate is never
//     novel at release and never needs an alert document.
//
// An event older than watermark - D when it arrives is late: it is decided
// at once, in arrival order, as without a reorder window (or, when its
// tuple has held events, joins them and is ordered with them). Events of a
// rule whose watermark has not moved for a while are released by
// ReleaseIdle (the plugin's timer), and everything by Release (the end of
// a replay); an event older than what such a release decided is late in
// the same way. So is one older than a release before a restart: the
// watermark is then the stored high-water, which may lag by a granularity.

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zeebo/xxh3"
)

// Held is the verdict on an event held for ordering: it is decided when
// released. A live batch hands its alert document to HoldAlert.
const Held Decision = Backfilled + 1

const (
	heldCandidate = 1 << iota // may be novel at release
	heldLearnOnly             // checked by a learn-only batch: novel is Backfilled
)

// heldItem is one held event of a tuple.
type heldItem struct {
	t       int64  // event time, Unix ms
	seq     uint64 // tells apart events of one tuple at one time
	flags   uint8
	stored  bool // committed: its key is in the store
	eventID string
	tuple   []string
	doc     []byte // alert document of a live candidate
}

// cmpHeld orders held events: by time, then event id (a duplicate
// delivery of one event decides the same either way), then arrival.
func cmpHeld(a, b *heldItem) int {
	if c := cmp.Compare(a.t, b.t); c != 0 {
		return c
	}
	if c := strings.Compare(a.eventID, b.eventID); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

func heldKey(k entryKey, t int64, seq uint64) []byte {
	key := make([]byte, 0, len(k)+16)
	key = append(key, k[:]...)
	key[0] = prefixHeld
	key = binary.BigEndian.AppendUint64(key, uint64(t)^1<<63)
	return binary.BigEndian.AppendUint64(key, seq)
}

func (h *heldItem) encode() []byte {
	dst := binary.AppendUvarint(nil, uint64(h.flags))
	dst = appendString(dst, h.eventID)
	dst = appendTuple(dst, h.tuple)
	if h.doc != nil {
		dst = append(dst, h.doc...)
	}
	return dst
}

func decodeHeld(key, val []byte) (entryKey, *heldItem, error) {
	var k entryKey
	if len(key) != len(k)+16 {
		return k, nil, errCorrupt
	}
	copy(k[:], key)
	k[0] = prefixTuple
	h := &heldItem{t: int64(binary.BigEndian.Uint64(key[25:]) ^ 1<<63), seq: binary.BigEndian.Uint64(key[33:]), stored: true}
	r := reader{b: val}
	flags := r.uvarint()
	h.eventID = r.string()
	h.tuple = r.tuple()
	if flags > heldCandidate|heldLearnOnly {
		r.err = errCorrupt
	}
	if r.err != nil {
		return k, nil, r.err
	}
	h.flags = uint8(flags)
	if len(r.b) > 0 {
		h.doc = bytes.Clone(r.b)
	}
	if h.flags&(heldCandidate|heldLearnOnly) == heldCandidate && h.doc == nil {
		return k, nil, fmt.Errorf("a held candidate without its alert: %w", errCorrupt)
	}
	return k, h, nil
}

// loadHeld rebuilds the index of held events (after the rule records).
func (s *State) loadHeld() error {
	s.held = map[entryKey][]*heldItem{}
	s.heldN.Store(0)
	s.nextHold = 1
	now := time.Now()
	s.advanced = map[uint64]time.Time{}
	for rh := range s.rules {
		s.advanced[rh] = now // a restart counts as a move: held events get their time
	}
	var bad error
	err := s.store.Scan([]byte{prefixHeld}, func(key, v []byte) bool {
		k, h, err := decodeHeld(key, v)
		if err == nil && s.rules[bytesToU64(k[1:9])] == nil {
			err = fmt.Errorf("its rule has no record: %w", errCorrupt)
		}
		if err != nil {
			bad = fmt.Errorf("state: held event %x is damaged: %w", key[1:], err)
			return false
		}
		s.held[k] = append(s.held[k], h)
		s.heldN.Add(1)
		s.nextHold = max(s.nextHold, h.seq+1)
		return true
	})
	if err = cmp.Or(bad, err); err != nil {
		return err
	}
	for _, items := range s.held {
		slices.SortFunc(items, cmpHeld)
	}
	return nil
}

// heldOf returns a tuple's held events: committed, and staged by this batch.
func (b *Batch) heldOf(k entryKey) (committed, staged []*heldItem) {
	return b.s.held[k], b.staged[k]
}

// join adds an event to its tuple's held events (there are some), as a
// candidate unless it cannot be novel at release (point 5).
func (b *Batch) join(k entryKey, th xxh3.Uint128, r Rule, tuple []string, ms int64, eventID string) (Decision, error) {
	cur, found, err := b.lookup(k, th)
	if err != nil {
		return Known, err
	}
	it := b.newHeld(ms, eventID, tuple)
	pred, hasPred := cur.last, found
	committed, staged := b.heldOf(k)
	for _, list := range [][]*heldItem{committed, staged} {
		for _, o := range list {
			if cmpHeld(o, it) < 0 && (!hasPred || o.t > pred) {
				pred, hasPred = o.t, true
			}
		}
	}
	window := r.Window.Milliseconds()
	gran := b.s.opts.Granularity(r.Window).Milliseconds()
	if !hasPred || ms-pred > window-gran {
		it.flags |= heldCandidate
	}
	return b.stage(k, it), nil
}

func (b *Batch) newHeld(ms int64, eventID string, tuple []string) *heldItem {
	it := &heldItem{t: ms, seq: b.s.nextHold + uint64(b.stagedN), eventID: strings.Clone(eventID), tuple: make([]string, len(tuple))}
	for i, v := range tuple {
		it.tuple[i] = strings.Clone(v)
	}
	if b.learnOnly {
		it.flags |= heldLearnOnly
	}
	return it
}

// stage holds an event in this batch: it is written at commit, unless
// released by the same commit.
func (b *Batch) stage(k entryKey, it *heldItem) Decision {
	if b.staged == nil {
		b.staged = map[entryKey][]*heldItem{}
	}
	if _, ok := b.staged[k]; !ok {
		b.stagedOrder = append(b.stagedOrder, k)
	}
	b.staged[k] = append(b.staged[k], it)
	b.stagedN++
	b.Counters.Held++
	if it.flags&heldCandidate == 0 {
		return Known
	}
	if !b.learnOnly {
		if b.awaiting == nil {
			b.awaiting = map[int]*heldItem{}
		}
		b.awaiting[b.Counters.Checked-1] = it
	}
	return Held
}

// HoldAlert gives the alert document of the check that returned Held:
// check counts this batch's calls to Check from 0. It is put into the
// outbox if the event is novel when released.
func (b *Batch) HoldAlert(check int, doc []byte) error {
	it := b.awaiting[check]
	switch {
	case it == nil:
		return fmt.Errorf("state: check %d of the batch was not held", check)
	case len(doc) == 0:
		return fmt.Errorf("state: check %d: an empty alert document", check)
	}
	it.doc = bytes.Clone(doc)
	return nil
}

// releasePlan is what a commit does to held events.
type releasePlan struct {
	lists   map[entryKey][]*heldItem // the touched tuples' held events after it
	deletes [][]byte
	sets    [][2][]byte
	n       int64 // held events after it, in all
	format  int   // the format marker to write, or 0
}

type releasedItem struct {
	k  entryKey
	it *heldItem
}

// release decides, in event-time order, the held events the commit
// releases, and plans the writes of the held events it keeps.
func (b *Batch) release() (*releasePlan, error) {
	s := b.s
	for check, it := range b.awaiting {
		if it.doc == nil {
			return nil, fmt.Errorf("state: check %d of the batch was held without its alert document", check)
		}
	}
	if len(s.held) == 0 && len(b.staged) == 0 {
		return nil, nil
	}
	lateness := s.opts.MaxLateness.Milliseconds()
	thresholds := map[uint64]int64{}
	threshold := func(rh uint64) int64 {
		if v, ok := thresholds[rh]; ok {
			return v
		}
		v := int64(math.MaxInt64) // the window is off, or the rule released whole
		if lateness > 0 && !b.releaseAll && !b.releaseRules[rh] {
			rec := b.rules[rh]
			if rec == nil {
				rec = s.rules[rh]
			}
			v = rec.highWater - lateness
		}
		thresholds[rh] = v
		return v
	}
	p := &releasePlan{lists: map[entryKey][]*heldItem{}, n: s.heldN.Load()}
	var out []releasedItem
	visit := func(k entryKey, committed, staged []*heldItem) {
		th := threshold(bytesToU64(k[1:9]))
		if len(staged) == 0 && committed[0].t >= th {
			return
		}
		all := append(slices.Clone(committed), staged...)
		slices.SortFunc(all, cmpHeld)
		i := 0
		for i < len(all) && all[i].t < th {
			out = append(out, releasedItem{k, all[i]})
			i++
		}
		for _, it := range all {
			key := heldKey(k, it.t, it.seq)
			switch {
			case it.stored && it.t < th:
				p.deletes = append(p.deletes, key)
				p.n--
			case !it.stored && it.t >= th:
				p.sets = append(p.sets, [2][]byte{key, it.encode()})
				p.n++
			}
		}
		p.lists[k] = all[i:]
	}
	for k, committed := range s.held {
		visit(k, committed, b.staged[k])
	}
	for _, k := range b.stagedOrder {
		if _, ok := s.held[k]; !ok {
			visit(k, nil, b.staged[k])
		}
	}
	// Tuples are independent: one order over all of them puts alerts into
	// the outbox in event-time order too.
	slices.SortFunc(out, func(x, y releasedItem) int {
		if c := cmpHeld(x.it, y.it); c != 0 {
			return c
		}
		return bytes.Compare(x.k[:], y.k[:])
	})
	for _, r := range out {
		if err := b.settleHeld(r.k, r.it); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(p.deletes, bytes.Compare)
	slices.SortFunc(p.sets, func(x, y [2][]byte) int { return bytes.Compare(x[0], y[0]) })
	switch {
	case p.n > 0 && s.format < formatHeld:
		p.format = formatHeld
	case p.n == 0 && s.format == formatHeld:
		p.format = formatPlain
	}
	return p, nil
}

// settleHeld decides on a released event against its tuple's released
// record.
func (b *Batch) settleHeld(k entryKey, it *heldItem) error {
	rh := bytesToU64(k[1:9])
	rec := b.rules[rh]
	if rec == nil {
		rec = b.s.rules[rh]
	}
	window := time.Duration(rec.window) * time.Millisecond
	b.Counters.Released++
	cur, found, err := b.lookup(k, xxh3.Uint128{Hi: bytesToU64(k[9:17]), Lo: bytesToU64(k[17:25])})
	if err != nil {
		return err
	}
	if found && it.t-cur.last <= rec.window {
		b.known(k, cur, it.t, window, it.tuple)
		if it.flags&heldCandidate != 0 {
			b.Counters.Cancelled++
		}
		return nil
	}
	if b.novel(k, it.t, rec.window, rec.earliest, it.eventID, it.tuple, it.flags&heldLearnOnly != 0) == Novel {
		b.alerts = append(b.alerts, it.doc)
	}
	return nil
}

func (p *releasePlan) empty() bool {
	return p == nil || len(p.deletes) == 0 && len(p.sets) == 0 && p.format == 0
}

func (p *releasePlan) write(w *Writes) {
	if p == nil {
		return
	}
	for _, kv := range p.sets {
		w.Set(kv[0], kv[1])
	}
	for _, k := range p.deletes {
		w.Delete(k)
	}
	if p.format != 0 {
		w.Set(formatKey, []byte(strconv.Itoa(p.format)))
	}
}

// applied updates the index once the commit is durable.
func (p *releasePlan) applied(s *State, staged int) {
	if p == nil {
		return
	}
	for k, items := range p.lists {
		if len(items) == 0 {
			delete(s.held, k)
			continue
		}
		for _, it := range items {
			it.stored = true
		}
		s.held[k] = items
	}
	s.heldN.Store(p.n)
	s.nextHold += uint64(staged)
	if p.format != 0 {
		s.format = p.format
	}
}

// Release decides every held event now, as if the input had ended: the end
// of a replay. Counters count what it decided.
func (s *State) Release() (Counters, error) {
	b := s.Begin(false)
	b.releaseAll = true
	err := b.Commit()
	return b.Counters, err
}

// ReleaseIdle decides the held events of every rule whose watermark has not
// moved for idle of wall-clock time (now: the wall clock): a quiet stream,
// or a rule whose events are rare, waits no longer than that for its
// alerts.
func (s *State) ReleaseIdle(idle time.Duration, now time.Time) (Counters, error) {
	b := s.Begin(false)
	for k := range s.held {
		rh := bytesToU64(k[1:9])
		if now.Sub(s.advanced[rh]) >= idle {
			if b.releaseRules == nil {
				b.releaseRules = map[uint64]bool{}
			}
			b.releaseRules[rh] = true
		}
	}
	if b.releaseRules == nil {
		b.Abort()
		return Counters{}, nil
	}
	err := b.Commit()
	return b.Counters, err
}

// HeldEvents is the number of events held for ordering.
func (s *State) HeldEvents() int64 { return s.heldN.Load() }
