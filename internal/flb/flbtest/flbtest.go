// Package flbtest writes Fluent Bit chunks for tests and benchmarks: records
// as Fluent Bit's input plugins append them, and the group markers of v2
// chunks. It writes the wire format from Fluent Bit's definitions, not from
// package flb's decoder, so that a misreading in one does not hide in the
// other.
package flbtest

import (
	"time"

	"github.com/newterms/newterms/internal/flb"
	"github.com/tinylib/msgp/msgp"
)

// Fluent Bit's FLB_LOG_EVENT_GROUP_START and _END: the seconds of a group
// marker's EventTime (include/fluent-bit/flb_log_event.h).
const (
	groupStart = -1
	groupEnd   = -2
)

// AppendRecord appends one record with a body of string fields: v2
// [[EventTime, {}], body] or v1 [EventTime, body].
func AppendRecord(dst []byte, v2 bool, t time.Time, fields ...[2]string) []byte {
	dst = msgp.AppendArrayHeader(dst, 2)
	if v2 {
		dst = msgp.AppendArrayHeader(dst, 2)
		dst = flb.AppendEventTime(dst, t)
		dst = msgp.AppendMapHeader(dst, 0)
	} else {
		dst = flb.AppendEventTime(dst, t)
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
	sec := int64(groupEnd)
	if start {
		sec = groupStart
	}
	dst = msgp.AppendArrayHeader(dst, 2)
	dst = msgp.AppendArrayHeader(dst, 2)
	dst = flb.AppendEventTime(dst, time.Unix(sec, 0))
	dst = msgp.AppendMapHeader(dst, 0)
	return msgp.AppendMapHeader(dst, 0)
}
