// Package cloudtrail turns AWS CloudTrail records, in every envelope they
// arrive in, into events whose fields are named as Elastic's AWS CloudTrail
// integration names them (ECS and aws.cloudtrail.*).
//
// Fields are computed lazily from the parsed record: Get answers one dotted
// ECS path without building the whole document, which only Document does.
package cloudtrail

import (
	"strings"
	"time"
	"unsafe"

	"github.com/valyala/fastjson"
)

// Event is one CloudTrail API event. It borrows the decoder's buffers and is
// valid only during the callback that receives it.
type Event struct {
	rec  *fastjson.Value // the CloudTrail record object
	raw  []byte          // the record's JSON text when known (nil inside a parsed envelope)
	ts   time.Time
	tsOK bool
	buf  []byte // scratch for computed strings; reset per event
	num  []byte // scratch for javaLenHiding's numbers
	// flat caches, per flattenedPrefixes entry, whether the payload is
	// present and small enough to be flattened: 0 unknown, 1 yes, 2 no.
	flat [len(flattenedPrefixes)]uint8
	ent  entities // the entity fields, computed on first use
	entB entityBuilder
	// svc caches serviceName: 0 unknown, 1 none, 2 svcName.
	svc     uint8
	svcName string
}

func (e *Event) reset(rec *fastjson.Value, raw []byte) {
	e.rec, e.raw = rec, raw
	e.buf = e.buf[:0]
	e.ts, e.tsOK = time.Time{}, false
	e.flat = [len(flattenedPrefixes)]uint8{}
	e.ent.done = false
	e.svc = 0
	if s, ok := e.str("eventTime"); ok {
		e.ts, e.tsOK = parseTime(s)
	}
}

// Time is the event's own time (CloudTrail eventTime, ECS @timestamp); ok is
// false when the record has no parseable eventTime.
func (e *Event) Time() (t time.Time, ok bool) { return e.ts, e.tsOK }

// ID is the CloudTrail eventID (ECS event.id), or "" when absent.
func (e *Event) ID() string {
	s, _ := e.str("eventID")
	return s
}

// Raw returns the record's JSON text when the record arrived as text of its
// own (a raw record or a string inside an envelope); otherwise it renders the
// parsed record. Like the event, the result is borrowed.
func (e *Event) Raw() []byte {
	if e.raw != nil {
		return e.raw
	}
	start := len(e.buf)
	e.buf = e.rec.MarshalTo(e.buf)
	return e.buf[start:]
}

// Get appends to dst every value of the ECS field and returns the result.
// Unknown fields and absent values append nothing.
func (e *Event) Get(field string, dst []Value) []Value {
	if g := Lookup(field); g != nil {
		return g(e, dst)
	}
	return dst
}

// Getter answers one field for an event; resolve it once with Lookup.
type Getter func(e *Event, dst []Value) []Value

// Lookup resolves an ECS field name to its getter, or nil when the field is
// not one this package produces. An object path (IsObject) yields the
// values of every field below it.
func Lookup(field string) Getter {
	if f, ok := fieldTable[field]; ok {
		return f.get
	}
	for i, p := range flattenedPrefixes {
		if rest, ok := strings.CutPrefix(field, p.ecs+"."); ok {
			return flattenedGetter(i, rest)
		}
	}
	if rest, ok := strings.CutPrefix(field, "aws.cloudtrail.resources."); ok {
		return resourceGetter(rest)
	}
	if IsObject(field) {
		return objectGetter(field)
	}
	return nil
}

// Known reports whether field is one Lookup resolves.
func Known(field string) bool { return Lookup(field) != nil }

// Fields lists the fixed ECS fields this package produces, sorted. Fields
// under aws.cloudtrail.flattened.* and aws.cloudtrail.resources.* are open
// ended and not listed.
func Fields() []string { return fieldNames }

// get returns the value at a path of the record, or nil.
func (e *Event) get(path ...string) *fastjson.Value {
	v := e.rec
	for _, k := range path {
		if v == nil || v.Type() != fastjson.TypeObject {
			return nil
		}
		o, _ := v.Object()
		v = o.Get(k)
	}
	return v
}

// str returns the string form of a scalar at path, honouring remove-nulls.
func (e *Event) str(path ...string) (string, bool) {
	v, ok := e.scalar(e.get(path...))
	return v.Str, ok
}

// parseTime reads a date as Elasticsearch's ISO8601 format does (RFC 3339,
// and its forms without seconds, time or zone; no zone is UTC).
func parseTime(s string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), true
	}
	return parseLayouts(s, isoLayouts)
}

var isoLayouts = []string{
	"2006-01-02T15:04:05.999999999Z0700", "2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04Z07:00", "2006-01-02T15:04Z0700", "2006-01-02T15:04",
	"2006-01-02T15Z07:00", "2006-01-02T15", "2006-01-02",
}

// basicLayouts are basic_date_time_no_millis and basic_date_time, which
// the pipeline also tries for a session's creation date.
var basicLayouts = []string{
	"20060102T150405Z0700", "20060102T150405Z07:00", "20060102T150405.000Z0700", "20060102T150405.000Z07:00",
}

func parseLayouts(s string, layouts []string) (time.Time, bool) {
	for _, l := range layouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// parseCreationDate tries ISO8601, then the basic formats.
func parseCreationDate(s string) (time.Time, bool) {
	if t, ok := parseTime(s); ok {
		return t, true
	}
	return parseLayouts(s, basicLayouts)
}

func validCreationDate(s string) bool { _, ok := parseCreationDate(s); return ok }

// appendTime formats t as Elasticsearch prints dates, with milliseconds.
func (e *Event) appendTime(t time.Time) string {
	start := len(e.buf)
	e.buf = t.AppendFormat(e.buf, "2006-01-02T15:04:05.000Z07:00")
	return b2s(e.buf[start:])
}

func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
