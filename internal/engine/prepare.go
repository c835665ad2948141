package engine

import (
	"bytes"
	"iter"
	"time"
)

// Prepared is a batch parsed, enriched and matched, waiting for its
// commit: Process split in two, so that a program with batches to spare
// (a replay) prepares several at once on every core and commits them one
// at a time, in its order, with the decisions Process would have made.
type Prepared struct {
	w   *worker // nil once committed
	res Result
	// First and Last are the earliest and the latest event time of the
	// batch's records (zero when none had one): of the events decoded,
	// and of the records the prefilter skipped, read from their
	// "eventTime" when they are plain JSON.
	First, Last time.Time
}

// Prepare is the first half of Process: it decodes and matches the batch
// without the state, and may run concurrently with other Prepares and
// with Commit. Records must stay valid until Commit returns.
func (e *Engine) Prepare(recs iter.Seq[Record]) *Prepared { return e.prepare(recs, true) }

// Commit is the second half of Process: it checks the prepared batch's
// tuples, builds its alerts and commits, as Process does. Prepared batches
// committed in some order decide as Process would have on the same batches
// in that order. A Prepared is committed once.
func (e *Engine) Commit(p *Prepared) (Result, error) {
	if p.w == nil {
		panic("engine: a Prepared batch committed twice")
	}
	return e.commit(p)
}

func (p *Prepared) span(t time.Time) {
	if p.First.IsZero() || t.Before(p.First) {
		p.First = t
	}
	if t.After(p.Last) {
		p.Last = t
	}
}

var eventTimeKey = []byte(`"eventTime"`)

// rawEventTime reads a CloudTrail record's top-level eventTime from its
// text without parsing it: the first "eventTime" member (userIdentity,
// which comes before it, holds none). Text that is not a plain record
// (an envelope, base64) gives nothing.
func rawEventTime(data []byte) (time.Time, bool) {
	i := bytes.Index(data, eventTimeKey)
	if i < 0 {
		return time.Time{}, false
	}
	rest := skipSpace(data[i+len(eventTimeKey):])
	if len(rest) == 0 || rest[0] != ':' {
		return time.Time{}, false
	}
	rest = skipSpace(rest[1:])
	if len(rest) == 0 || rest[0] != '"' {
		return time.Time{}, false
	}
	end := bytes.IndexByte(rest[1:], '"')
	if end < 0 || end > 40 {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(rest[1:1+end]))
	return t.UTC(), err == nil
}

func skipSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}
