package flb

import (
	"encoding/binary"
	"time"
)

// AppendEventTime appends Fluent Bit's EventTime extension (type 0):
// seconds and nanoseconds, big-endian 32-bit each. The sender writes its
// Forward messages' times with it.
func AppendEventTime(dst []byte, t time.Time) []byte {
	dst = append(dst, 0xd7, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(t.Unix()))
	return binary.BigEndian.AppendUint32(dst, uint32(t.Nanosecond()))
}
