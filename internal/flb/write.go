package flb

import (
	"encoding/binary"
	"time"

	"github.com/tinylib/msgp/msgp"
)

// AppendRecord appends one record as Fluent Bit writes it into a chunk, with
// a body of string fields: v2 [[EventTime, {}], body] or v1 [EventTime,
// body]. Tests, benchmarks and tools use it to make chunks.
func AppendRecord(dst []byte, v2 bool, t time.Time, fields ...[2]string) []byte {
	dst = msgp.AppendArrayHeader(dst, 2)
	if v2 {
		dst = msgp.AppendArrayHeader(dst, 2)
		dst = AppendEventTime(dst, t)
		dst = msgp.AppendMapHeader(dst, 0)
	} else {
		dst = AppendEventTime(dst, t)
	}
	dst = msgp.AppendMapHeader(dst, uint32(len(fields)))
	for _, kv := range fields {
		dst = msgp.AppendString(dst, kv[0])
		dst = msgp.AppendString(dst, kv[1])
	}
	return dst
}

// AppendGroupMarker appends a v2 group start (start) or end marker.
func AppendGroupMarker(dst []byte, start bool) []byte {
	sec := int32(groupEnd)
	if start {
		sec = groupStart
	}
	dst = msgp.AppendArrayHeader(dst, 2)
	dst = msgp.AppendArrayHeader(dst, 2)
	dst = appendEventTime(dst, uint32(sec), 0)
	dst = msgp.AppendMapHeader(dst, 0)
	return msgp.AppendMapHeader(dst, 0)
}

// AppendEventTime appends Fluent Bit's EventTime extension (type 0).
func AppendEventTime(dst []byte, t time.Time) []byte {
	return appendEventTime(dst, uint32(t.Unix()), uint32(t.Nanosecond()))
}

func appendEventTime(dst []byte, sec, nsec uint32) []byte {
	dst = append(dst, 0xd7, 0)
	dst = binary.BigEndian.AppendUint32(dst, sec)
	return binary.BigEndian.AppendUint32(dst, nsec)
}
