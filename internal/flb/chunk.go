// Package flb decodes Fluent Bit chunks: the msgpack events an output
// plugin receives, in the v2 layout [[EventTime, metadata], body] and the
// older v1 layout [time, body]. It reads them in place with tinylib/msgp's
// low-level functions, without building maps, and knows nothing of cgo.
package flb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/tinylib/msgp/msgp"
)

// Record is one event of a chunk. Body is the msgpack map, borrowed from
// the chunk: valid only as long as the chunk is.
type Record struct {
	Time time.Time
	Body []byte
}

// Group markers open and close groups of records in v2 chunks; they are
// not records.
const (
	groupStart = -1
	groupEnd   = -2
)

// ErrUndecodable is wrapped by the error Each returns when the chunk's
// bytes stop being msgpack: the rest of the chunk cannot be read.
var ErrUndecodable = errors.New("chunk is not msgpack")

// Each calls fn for every record of the chunk, in order, skipping group
// markers. A malformed record is reported through bad (if not nil) and skipped; the
// others still reach fn. The returned error is for bytes that are not
// msgpack at all, after which nothing more can be read.
func Each(chunk []byte, fn func(Record), bad func(offset int, err error)) (records int, err error) {
	b := chunk
	for len(b) > 0 {
		off := len(chunk) - len(b)
		next, err := msgp.Skip(b)
		if err != nil {
			return records, fmt.Errorf("%w: at byte %d of %d: %v", ErrUndecodable, off, len(chunk), err)
		}
		entry := b[:len(b)-len(next)]
		b = next
		rec, marker, err := decodeEntry(entry)
		switch {
		case err != nil:
			if bad != nil {
				bad(off, err)
			}
		case !marker:
			records++
			fn(rec)
		}
	}
	return records, nil
}

// decodeEntry reads one [header, body] entry.
func decodeEntry(e []byte) (rec Record, marker bool, err error) {
	n, rest, err := msgp.ReadArrayHeaderBytes(e)
	if err != nil {
		return rec, false, fmt.Errorf("record is a %s, want an array", msgp.NextType(e))
	}
	if n != 2 {
		return rec, false, fmt.Errorf("record array has %d elements, want 2", n)
	}
	var sec int64
	var nsec int64
	if msgp.NextType(rest) == msgp.ArrayType {
		// v2: [[EventTime, metadata], body]
		hn, h, err := msgp.ReadArrayHeaderBytes(rest)
		if err != nil || hn < 1 {
			return rec, false, fmt.Errorf("v2 record header: want [time, metadata]")
		}
		if sec, nsec, h, err = readTime(h); err != nil {
			return rec, false, err
		}
		for i := uint32(1); i < hn; i++ {
			if h, err = msgp.Skip(h); err != nil {
				return rec, false, fmt.Errorf("v2 record metadata: %v", err)
			}
		}
		rest = h
	} else if sec, nsec, rest, err = readTime(rest); err != nil {
		return rec, false, err
	}
	if sec == groupStart || sec == groupEnd {
		return rec, true, nil
	}
	if t := msgp.NextType(rest); t != msgp.MapType {
		return rec, false, fmt.Errorf("record body is a %s, want a map", t)
	}
	return Record{Time: time.Unix(sec, nsec).UTC(), Body: rest}, false, nil
}

// readTime reads Fluent Bit's EventTime (ext 0: seconds and nanoseconds,
// big-endian 32-bit each), an integer or a float number of seconds.
func readTime(b []byte) (sec, nsec int64, rest []byte, err error) {
	switch msgp.NextType(b) {
	case msgp.IntType:
		i, rest, err := msgp.ReadInt64Bytes(b)
		return i, 0, rest, err
	case msgp.UintType:
		u, rest, err := msgp.ReadUint64Bytes(b)
		if u > math.MaxInt64 {
			return 0, 0, nil, fmt.Errorf("record time %d out of range", u)
		}
		return int64(u), 0, rest, err
	case msgp.Float64Type, msgp.Float32Type:
		f, rest, err := msgp.ReadFloat64Bytes(b)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e15 {
			return 0, 0, nil, fmt.Errorf("record time is not a usable number")
		}
		s, frac := math.Modf(f)
		return int64(s), int64(frac * 1e9), rest, nil
	}
	// fixext8 (0xd7) or ext8 (0xc7) of length 8, type 0.
	var data []byte
	switch {
	case len(b) >= 10 && b[0] == 0xd7 && b[1] == 0:
		data, rest = b[2:10], b[10:]
	case len(b) >= 11 && b[0] == 0xc7 && b[1] == 8 && b[2] == 0:
		data, rest = b[3:11], b[11:]
	default:
		return 0, 0, nil, fmt.Errorf("record time is a %s, want EventTime, an integer or a float", msgp.NextType(b))
	}
	sec = int64(int32(binary.BigEndian.Uint32(data[:4])))
	nsec = int64(binary.BigEndian.Uint32(data[4:]))
	return sec, nsec, rest, nil
}

// Text finds the first of keys in a record body whose value is a string
// (or binary) and returns it, borrowed from the body. found is false when
// none of the keys holds text.
func Text(body []byte, keys []string) (text []byte, found bool, err error) {
	n, b, err := msgp.ReadMapHeaderBytes(body)
	if err != nil {
		return nil, false, err
	}
	best := len(keys)
	for range n {
		var k []byte
		if k, b, err = msgp.ReadMapKeyZC(b); err != nil {
			return nil, false, fmt.Errorf("record key: %v", err)
		}
		var v []byte
		switch msgp.NextType(b) {
		case msgp.StrType:
			v, b, err = msgp.ReadStringZC(b)
		case msgp.BinType:
			v, b, err = msgp.ReadBytesZC(b)
		default:
			b, err = msgp.Skip(b)
			v = nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("record value: %v", err)
		}
		if v == nil {
			continue
		}
		for i, want := range keys[:best] {
			if string(k) == want {
				text, best = v, i
				break
			}
		}
	}
	return text, best < len(keys), nil
}

// AppendJSON renders a record body (a msgpack map) as JSON, keeping its key
// order, for bodies that hold CloudTrail as fields rather than as text.
func AppendJSON(dst, body []byte) ([]byte, error) {
	w := bytes.NewBuffer(dst)
	if _, err := msgp.UnmarshalAsJSON(w, body); err != nil {
		return dst, fmt.Errorf("record body as JSON: %v", err)
	}
	return w.Bytes(), nil
}
