package alert

import "github.com/newterms/newterms/internal/cloudtrail"

// AppendEvent appends the event's ECS document alone (what newterms
// normalize prints) as one line of JSON to dst: the content of
// Event.Document, written as the alert documents are, without maps or
// reflection. The payload objects keep the record's key order.
func AppendEvent(dst []byte, ev *cloudtrail.Event) []byte {
	w := writer{buf: append(dst, '{')}
	ev.Walk(&w, nil)
	return append(w.buf, '}')
}
