package seen

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/zeebo/xxh3"
)

// On-disk format, version 1, or 2 while events are held (max_lateness).
// Keys:
//
//	"\x00format"                           -> "1", or "2" while 'h' keys exist
//	'r' ruleHash(8)                        -> rule record
//	't' ruleHash(8) tupleHash(16)          -> tuple record
//	'o' seq(8)                             -> alert document (outbox)
//	'h' ruleHash(8) tupleHash(16) t(8) seq(8) -> held event
//
// A held event's time t is Unix ms with the sign bit flipped, so that keys
// sort by it; seq tells apart events of one tuple at one time. Version 2
// exists so that a build that knows nothing of held events refuses a state
// holding some instead of never deciding them; the marker goes back to 1
// once nothing is held.
//
// ruleHash is xxh3-64 of the rule key (rule_id:query-hash). tupleHash is
// xxh3-128 of the tuple's values, each preceded by its length in bytes as
// an unsigned varint; both halves big-endian (high, then low). Integers in
// keys are big-endian so that keys sort by them.
//
// Records are sequences of varints (times are Unix milliseconds, signed)
// and length-prefixed strings:
//
//	rule:  earliest, highWater, window, key, name
//	tuple: firstSeen, lastSeen, firstEventID, count, values... (each value
//	       capped at maxStoredValue bytes: the hash identifies the tuple,
//	       the values are for people listing state)
//	held:  flags, eventID, count, values..., then for a candidate of a live
//	       batch its alert document
const (
	formatVersion = 2 // the newest format this build reads
	formatPlain   = 1 // nothing held: what builds before held events read
	formatHeld    = 2 // held events present
)

var formatKey = []byte("\x00format")

const (
	prefixRule   = 'r'
	prefixTuple  = 't'
	prefixOutbox = 'o'
	prefixHeld   = 'h'
)

const maxStoredValue = 256

// ruleHash identifies a rule key in tuple keys.
func ruleHash(key string) uint64 { return xxh3.HashString(key) }

// tupleHash hashes length-prefixed values; buf is scratch.
func tupleHash(buf []byte, tuple []string) (xxh3.Uint128, []byte) {
	buf = buf[:0]
	for _, v := range tuple {
		buf = binary.AppendUvarint(buf, uint64(len(v)))
		buf = append(buf, v...)
	}
	return xxh3.Hash128(buf), buf
}

// entryKey is a tuple record's key.
type entryKey [25]byte

func makeEntryKey(rh uint64, th xxh3.Uint128) entryKey {
	var k entryKey
	k[0] = prefixTuple
	binary.BigEndian.PutUint64(k[1:], rh)
	binary.BigEndian.PutUint64(k[9:], th.Hi)
	binary.BigEndian.PutUint64(k[17:], th.Lo)
	return k
}

func ruleKeyBytes(rh uint64) []byte {
	k := make([]byte, 9)
	k[0] = prefixRule
	binary.BigEndian.PutUint64(k[1:], rh)
	return k
}

func tuplePrefix(rh uint64) []byte {
	k := ruleKeyBytes(rh)
	k[0] = prefixTuple
	return k
}

func outboxKey(seq uint64) []byte {
	k := make([]byte, 9)
	k[0] = prefixOutbox
	binary.BigEndian.PutUint64(k[1:], seq)
	return k
}

// entry is a tuple record.
type entry struct {
	first, last int64 // event times, Unix ms
	eventID     string
	tuple       []string
	stored      []byte // the record as read from the store, if it was (not encoded)

	// For a shared store's commit (see Created and Refreshed): decided
	// new, with the condition's time; or which times a refresh moved.
	created               bool
	learning              bool
	before                int64
	window                time.Duration
	movedFirst, movedLast bool
}

func (e *entry) encode(dst []byte) []byte {
	dst = binary.AppendVarint(dst, e.first)
	dst = binary.AppendVarint(dst, e.last)
	dst = appendString(dst, e.eventID)
	return appendTuple(dst, e.tuple)
}

// appendTuple writes a tuple's values for people listing state: a count,
// then each value capped at maxStoredValue (the hash identifies it).
func appendTuple(dst []byte, tuple []string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(tuple)))
	for _, v := range tuple {
		if len(v) > maxStoredValue {
			v = v[:maxStoredValue]
		}
		dst = appendString(dst, v)
	}
	return dst
}

// tuple reads what appendTuple wrote: at most three values.
func (r *reader) tuple() []string {
	n := r.uvarint()
	if n > 3 {
		r.err = errCorrupt
	}
	var out []string
	for i := uint64(0); i < n && r.err == nil; i++ {
		out = append(out, r.string())
	}
	return out
}

var errCorrupt = errors.New("corrupt record")

// decodeTimes reads only the times: all a check needs.
func decodeTimes(b []byte) (first, last int64, err error) {
	first, n := binary.Varint(b)
	if n <= 0 {
		return 0, 0, errCorrupt
	}
	last, m := binary.Varint(b[n:])
	if m <= 0 {
		return 0, 0, errCorrupt
	}
	return first, last, nil
}

func decodeEntry(b []byte) (entry, error) {
	var e entry
	var err error
	r := reader{b: b}
	e.first = r.varint()
	e.last = r.varint()
	e.eventID = r.string()
	e.tuple = r.tuple()
	if r.err != nil {
		err = fmt.Errorf("tuple record: %w", r.err)
	}
	return e, err
}

// ruleRecord is what the state keeps per rule.
type ruleRecord struct {
	earliest, highWater int64 // event times, Unix ms
	window              int64 // ms
	key, name           string
}

func (r *ruleRecord) encode() []byte {
	var dst []byte
	dst = binary.AppendVarint(dst, r.earliest)
	dst = binary.AppendVarint(dst, r.highWater)
	dst = binary.AppendVarint(dst, r.window)
	dst = appendString(dst, r.key)
	return appendString(dst, r.name)
}

func decodeRule(b []byte) (ruleRecord, error) {
	r := reader{b: b}
	rec := ruleRecord{earliest: r.varint(), highWater: r.varint(), window: r.varint(), key: r.string(), name: r.string()}
	switch {
	case r.err != nil:
	case len(r.b) > 0 || rec.window <= 0 || rec.key == "" || rec.earliest != noTime && rec.highWater < rec.earliest:
		// Varints decode any bytes: only the shape tells garbage apart.
		r.err = errCorrupt
	default:
		return rec, nil
	}
	return rec, fmt.Errorf("rule record: %w", r.err)
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) string() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.err = errCorrupt
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}
