package cloudtrail

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// DefaultMaxRecordSize caps one input, and each payload decoded from base64
// or gzip inside it, before any parsing.
const DefaultMaxRecordSize = 1 << 20

// maxNesting bounds envelopes inside envelopes (Firehose -> base64 -> gzip ->
// CloudWatch Logs -> message string is four levels).
const maxNesting = 8

// Options configure a Decoder. The zero value is usable.
type Options struct {
	// MaxRecordSize caps an input and each decoded payload, in bytes.
	MaxRecordSize int
}

// DefaultRecordKeys are the keys of a Fluent Bit record where shippers
// usually put a line of CloudTrail JSON text, tried in order.
var DefaultRecordKeys = []string{"log", "message"}

// ErrorKind classifies bad input so that it can be counted.
type ErrorKind string

const (
	ErrTooLarge ErrorKind = "too_large"
	ErrJSON     ErrorKind = "invalid_json"
	ErrUTF8     ErrorKind = "invalid_utf8"
	ErrBase64   ErrorKind = "invalid_base64"
	ErrGzip     ErrorKind = "invalid_gzip"
	ErrType     ErrorKind = "wrong_type"     // a known envelope with a field of the wrong type
	ErrShape    ErrorKind = "not_cloudtrail" // valid input of no CloudTrail shape
	ErrNesting  ErrorKind = "too_deep"
)

// Error is one bad part of an input: what is wrong and where. Callers
// find it in any error chain with errors.As and read Kind and Where; its
// text is for people.
type Error struct {
	Kind  ErrorKind
	Where string // path inside the input, e.g. "Records[3]"; "" for the whole
	Msg   string
	// Err is the error of the decoder that refused the input (gzip,
	// base64), or nil; Msg already tells what it says. The JSON parser's
	// error is not kept: it has no type to find, and its text, which can
	// run to kilobytes, is in Msg cut short.
	Err error
}

func (e *Error) Error() string {
	if e.Where == "" {
		return fmt.Sprintf("%s: %s", e.Kind, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", e.Where, e.Kind, e.Msg)
}

// Unwrap is the decoder's error, so that errors.Is finds, say,
// io.ErrUnexpectedEOF in a truncated gzip payload.
func (e *Error) Unwrap() error { return e.Err }

// Result counts what one input held. Errors lists the bad parts; events
// from the good parts were delivered all the same.
type Result struct {
	Events        int // CloudTrail API and service events delivered
	Insights      int // Insights events (not API events)
	Digests       int // digest files
	Notifications int // S3 / SNS pointers to log files
	Control       int // CloudWatch Logs CONTROL_MESSAGEs
	Errors        []*Error
}

// Err joins the errors, or is nil.
func (r *Result) Err() error {
	errs := make([]error, len(r.Errors))
	for i, e := range r.Errors {
		errs[i] = e
	}
	return errors.Join(errs...)
}

// Decoder finds CloudTrail events in inputs. It reuses its buffers across
// calls and is not safe for concurrent use: use one per goroutine.
type Decoder struct {
	opts   Options
	levels [maxNesting]struct {
		p   fastjson.Parser
		buf []byte
		b64 bool // buf holds base64-decoded bytes
	}
	ev  Event
	gz  *gzip.Reader
	res Result
	fn  func(*Event)
}

// NewDecoder returns a Decoder with defaults filled in.
func NewDecoder(opts Options) *Decoder {
	if opts.MaxRecordSize <= 0 {
		opts.MaxRecordSize = DefaultMaxRecordSize
	}
	return &Decoder{opts: opts}
}

// Decode calls fn for each CloudTrail event in data, in order. data is JSON
// text in any envelope, or the base64 and/or gzip form of one. The Event
// passed to fn is valid only during that call.
func (d *Decoder) Decode(data []byte, fn func(*Event)) Result {
	d.begin(fn)
	d.text(data, 0, nil)
	return d.end()
}

func (d *Decoder) begin(fn func(*Event)) {
	d.res = Result{}
	d.fn = fn
}

func (d *Decoder) end() Result {
	d.fn = nil
	return d.res
}

// loc is a path inside the input, built as a chain on the stack and turned
// into text only when an error needs it.
type loc struct {
	parent *loc
	key    string
	idx    int // array index when key == ""
}

func (l *loc) String() string {
	if l == nil {
		return ""
	}
	p := l.parent.String()
	if l.key == "" {
		return p + "[" + strconv.Itoa(l.idx) + "]"
	}
	if p == "" {
		return l.key
	}
	return p + "." + l.key
}

func (d *Decoder) fail(kind ErrorKind, at *loc, format string, args ...any) {
	d.failWith(kind, at, nil, format, args...)
}

// failWith is fail for input that a decoder refused with err.
func (d *Decoder) failWith(kind ErrorKind, at *loc, err error, format string, args ...any) {
	d.res.Errors = append(d.res.Errors, &Error{Kind: kind, Where: at.String(), Msg: fmt.Sprintf(format, args...), Err: err})
}

var gzipMagic = []byte{0x1f, 0x8b}

// text handles one piece of text: JSON, gzip, or base64 of either.
func (d *Decoder) text(data []byte, depth int, at *loc) {
	if depth >= maxNesting {
		d.fail(ErrNesting, at, "envelopes nested more than %d deep", maxNesting)
		return
	}
	if len(data) > d.opts.MaxRecordSize {
		d.fail(ErrTooLarge, at, "%d bytes exceeds the limit of %d", len(data), d.opts.MaxRecordSize)
		return
	}
	data = bytes.TrimSpace(data)
	switch {
	case len(data) == 0:
		d.fail(ErrShape, at, "empty input")
	case data[0] == '{' || data[0] == '[':
		if !utf8.Valid(data) {
			d.fail(ErrUTF8, at, "invalid UTF-8 at byte %d", invalidUTF8At(data))
			return
		}
		lv := &d.levels[depth]
		v, err := lv.p.ParseBytes(data)
		if err != nil {
			d.fail(ErrJSON, at, "%s", truncate(err.Error(), 200))
			return
		}
		d.value(v, data, depth, at)
	case bytes.HasPrefix(data, gzipMagic):
		if out, ok := d.gunzip(data, depth+1, at); ok {
			d.text(out, depth+1, at)
		}
	case !d.base64At(depth) && isBase64(data):
		if out, ok := d.unbase64(data, depth+1, at); ok {
			d.text(out, depth+1, at)
		}
	default:
		d.fail(ErrShape, at, "text is neither JSON, gzip nor base64: %q", truncate(string(data), 40))
	}
}

// base64At reports whether the text at depth came out of base64 decoding,
// which is never applied twice in a row.
func (d *Decoder) base64At(depth int) bool { return depth > 0 && d.levels[depth].b64 }

func isBase64(b []byte) bool {
	for _, c := range b {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return true
}

func (d *Decoder) gunzip(data []byte, depth int, at *loc) ([]byte, bool) {
	if depth >= maxNesting {
		d.fail(ErrNesting, at, "envelopes nested more than %d deep", maxNesting)
		return nil, false
	}
	var err error
	if d.gz == nil {
		d.gz, err = gzip.NewReader(bytes.NewReader(data))
	} else {
		err = d.gz.Reset(bytes.NewReader(data))
	}
	if err != nil {
		d.failWith(ErrGzip, at, err, "%v", err)
		return nil, false
	}
	lv := &d.levels[depth]
	w := bytes.NewBuffer(lv.buf[:0])
	n, err := io.Copy(w, io.LimitReader(d.gz, int64(d.opts.MaxRecordSize)+1))
	lv.buf, lv.b64 = w.Bytes(), false
	switch {
	case err != nil:
		d.failWith(ErrGzip, at, err, "%v", err)
		return nil, false
	case n > int64(d.opts.MaxRecordSize):
		d.fail(ErrTooLarge, at, "gzip payload exceeds the limit of %d bytes", d.opts.MaxRecordSize)
		return nil, false
	}
	return lv.buf, true
}

func (d *Decoder) unbase64(data []byte, depth int, at *loc) ([]byte, bool) {
	if depth >= maxNesting {
		d.fail(ErrNesting, at, "envelopes nested more than %d deep", maxNesting)
		return nil, false
	}
	lv := &d.levels[depth]
	n := base64.StdEncoding.DecodedLen(len(data))
	lv.buf = slices.Grow(lv.buf[:0], n)[:n]
	n, err := base64.StdEncoding.Decode(lv.buf, data)
	if err != nil {
		d.failWith(ErrBase64, at, err, "neither JSON, gzip nor base64: %v", err)
		return nil, false
	}
	lv.buf, lv.b64 = lv.buf[:n], true
	return lv.buf, true
}

// value classifies one parsed JSON value by its shape (docs/envelopes.md).
func (d *Decoder) value(v *fastjson.Value, raw []byte, depth int, at *loc) {
	switch v.Type() {
	case fastjson.TypeArray:
		a, _ := v.Array()
		for i, el := range a {
			d.value(el, nil, depth, &loc{parent: at, idx: i})
		}
		return
	case fastjson.TypeObject:
	default:
		d.fail(ErrShape, at, "a JSON %s is not a CloudTrail record or envelope", v.Type())
		return
	}
	o, _ := v.Object()
	switch {
	case o.Get("eventVersion") != nil && (o.Get("insightDetails") != nil || string(o.Get("eventType").GetStringBytes()) == "AwsCloudTrailInsight"):
		d.res.Insights++
	case s3Notification(o):
		// An S3 event notification, on a line of its own or inside
		// Records: it points at an object, as Elastic's input reads it.
		d.res.Notifications++
	case isRecord(o):
		d.res.Events++
		d.ev.reset(v, raw)
		d.fn(&d.ev)
	case o.Get("digestStartTime") != nil || o.Get("digestEndTime") != nil:
		d.res.Digests++
	case o.Get("Records") != nil:
		d.each(o, "Records", depth, at, func(el *fastjson.Value, at *loc) { d.value(el, nil, depth, at) })
	case o.Get("detail-type") != nil && o.Get("detail") != nil:
		det := o.Get("detail")
		at := &loc{parent: at, key: "detail"}
		if det.Type() != fastjson.TypeObject || !isRecord(det.GetObject()) {
			d.fail(ErrShape, at, "EventBridge event of detail-type %q holds no CloudTrail record", o.Get("detail-type").GetStringBytes())
			return
		}
		d.value(det, nil, depth, at)
	case o.Get("messageType") != nil:
		switch mt := string(o.Get("messageType").GetStringBytes()); mt {
		case "CONTROL_MESSAGE":
			d.res.Control++
		case "DATA_MESSAGE":
			d.each(o, "logEvents", depth, at, func(el *fastjson.Value, at *loc) {
				d.nestedText(el, "message", depth, at)
			})
		default:
			d.fail(ErrShape, &loc{parent: at, key: "messageType"}, "unknown CloudWatch Logs messageType %q", mt)
		}
	case o.Get("awslogs") != nil:
		d.nestedText(o.Get("awslogs"), "data", depth, &loc{parent: at, key: "awslogs"})
	case o.Get("records") != nil:
		d.each(o, "records", depth, at, func(el *fastjson.Value, at *loc) {
			// AWS's own examples show data decoded, as an object.
			if data := el.Get("data"); data != nil && data.Type() == fastjson.TypeObject {
				d.value(data, nil, depth, &loc{parent: at, key: "data"})
				return
			}
			d.nestedText(el, "data", depth, at)
		})
	case o.Get("CloudTrailEvent") != nil:
		d.nestedText(v, "CloudTrailEvent", depth, at)
	case o.Get("Events") != nil:
		d.each(o, "Events", depth, at, func(el *fastjson.Value, at *loc) { d.value(el, nil, depth, at) })
	case string(o.Get("Type").GetStringBytes()) == "Notification" && o.Get("Message") != nil:
		d.nestedText(v, "Message", depth, at)
	case o.Get("s3Bucket") != nil && o.Get("s3ObjectKey") != nil:
		d.res.Notifications++
	default:
		d.fail(ErrShape, at, "no CloudTrail record or envelope shape (keys: %s)", keyList(o))
	}
}

// isRecord tells a CloudTrail record by its keys: eventVersion and one of
// eventName, eventSource, userIdentity; or, without eventVersion, which
// Elastic's pipeline does not need, eventName and eventSource with
// eventTime or userIdentity.
func isRecord(o *fastjson.Object) bool {
	if o.Get("eventVersion") != nil {
		return o.Get("eventName") != nil || o.Get("eventSource") != nil || o.Get("userIdentity") != nil
	}
	return o.Get("eventName") != nil && o.Get("eventSource") != nil && (o.Get("eventTime") != nil || o.Get("userIdentity") != nil)
}

// s3Notification tells an S3 event notification record: an s3 object and
// eventSource "aws:s3".
func s3Notification(o *fastjson.Object) bool {
	return o.Get("s3") != nil && string(o.Get("eventSource").GetStringBytes()) == "aws:s3"
}

// each visits the elements of the array under key.
func (d *Decoder) each(o *fastjson.Object, key string, depth int, at *loc, fn func(*fastjson.Value, *loc)) {
	at = &loc{parent: at, key: key}
	v := o.Get(key)
	if v == nil {
		d.fail(ErrType, at, "want an array, got nothing")
		return
	}
	if v.Type() != fastjson.TypeArray {
		d.fail(ErrType, at, "want an array, got %s", v.Type())
		return
	}
	a, _ := v.Array()
	for i, el := range a {
		fn(el, &loc{parent: at, idx: i})
	}
}

// nestedText decodes the string under key of v as text of its own.
func (d *Decoder) nestedText(v *fastjson.Value, key string, depth int, at *loc) {
	at = &loc{parent: at, key: key}
	s := v.Get(key)
	if s == nil || s.Type() != fastjson.TypeString {
		got := "nothing"
		if s != nil {
			got = s.Type().String()
		}
		d.fail(ErrType, at, "want a string, got %s", got)
		return
	}
	b, _ := s.StringBytes()
	if depth+1 < maxNesting {
		d.levels[depth+1].b64 = false // b is a string, not base64 output: the flag is left from an earlier payload
	}
	d.text(b, depth+1, at)
}

func keyList(o *fastjson.Object) string {
	var keys []string
	o.Visit(func(k []byte, _ *fastjson.Value) {
		if len(keys) < 8 {
			keys = append(keys, string(k))
		}
	})
	return strings.Join(keys, ", ")
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
