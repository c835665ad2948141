// Package alert builds the documents that newterms emits for novel term
// tuples: the event's ECS document, the rule and the new terms (under
// Kibana's kibana.alert.* names and our newterms.*), a deterministic alert
// id, and a one-line message for people. docs/alerts.md is the schema.
package alert

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/newterms/newterms/internal/cloudtrail"
	"github.com/newterms/newterms/internal/rules"
)

// Input is what an alert is made of.
type Input struct {
	Rule       *rules.Rule
	Tuple      []string // values of Rule.Fields, in order
	Event      *cloudtrail.Event
	Enrichment rules.Enrichment
	// IncludeOriginal adds the CloudTrail record as event.original.
	IncludeOriginal bool
}

// ID is the deterministic alert id: the same rule state, tuple and first
// event always give the same id, so that downstream can drop the
// duplicates that at-least-once delivery may bring.
func ID(ruleKey string, tuple []string, eventID string) string {
	var b [32]byte
	return string(appendID(b[:0], ruleKey, tuple, eventID))
}

// appendID appends the first 32 hex digits of SHA-256 over the rule key,
// each value after a 0 byte, two 0 bytes and the event id.
func appendID(dst []byte, ruleKey string, tuple []string, eventID string) []byte {
	var small [512]byte
	in := append(small[:0], ruleKey...)
	for _, v := range tuple {
		in = append(in, 0)
		in = append(in, v...)
	}
	in = append(in, 0, 0)
	in = append(in, eventID...)
	sum := sha256.Sum256(in)
	return hex.AppendEncode(dst, sum[:16])
}

// Append appends the alert document of in, as one line of JSON, to dst.
// It cannot fail: every string is escaped, and whatever the record holds
// comes out as JSON.
//
// Top-level members: the event's ECS document (as Event.Document has it,
// with event.kind "alert", source.as.* from enrichment, event.original if
// asked for), then kibana, message and newterms.
func Append(dst []byte, in Input) []byte {
	r, ev := in.Rule, in.Event
	var extra [4]cloudtrail.Extra // in path order
	n := 0
	extra[n] = cloudtrail.Extra{Path: "event.kind", Value: cloudtrail.StringValue("alert")}
	n++
	if in.IncludeOriginal {
		raw := ev.Raw()
		extra[n] = cloudtrail.Extra{Path: "event.original", Value: cloudtrail.StringValue(unsafe.String(unsafe.SliceData(raw), len(raw)))}
		n++
	}
	var asText [20]byte
	if in.Enrichment.HasAS {
		num := strconv.AppendUint(asText[:0], uint64(in.Enrichment.ASNumber), 10)
		extra[n] = cloudtrail.Extra{Path: rules.FieldASNumber, Value: cloudtrail.Value{Kind: cloudtrail.Number, Str: unsafe.String(&num[0], len(num)), Num: float64(in.Enrichment.ASNumber)}}
		n++
		if in.Enrichment.ASOrg != "" {
			extra[n] = cloudtrail.Extra{Path: rules.FieldASOrg, Value: cloudtrail.StringValue(in.Enrichment.ASOrg)}
			n++
		}
	}

	w := writer{buf: append(dst, '{')}
	ev.Walk(&w, extra[:n])

	var idBuf [32]byte
	id := appendID(idBuf[:0], r.Key, in.Tuple, ev.ID())
	var msgBuf [512]byte
	msg := appendMessage(msgBuf[:0], in)
	t, hasTime := ev.Time()

	w.Key("kibana")
	w.Begin(false)
	w.Key("alert")
	w.Begin(false)
	w.Key("new_terms")
	w.Strings(in.Tuple)
	if hasTime {
		w.Key("original_time")
		w.sep()
		w.buf = append(w.buf, '"')
		w.buf = t.AppendFormat(w.buf, "2006-01-02T15:04:05.000Z07:00")
		w.buf = append(w.buf, '"')
		w.comma = true
	}
	w.Key("reason")
	w.String(b2s(msg))
	w.Key("risk_score")
	w.Int(int64(r.RiskScore))
	w.Key("rule")
	w.Begin(false)
	w.Key("name")
	w.String(r.Name)
	w.Key("parameters")
	w.Begin(false)
	w.Key("history_window_start")
	w.String(r.WindowText)
	w.Key("new_terms_fields")
	w.Strings(r.Fields)
	w.End(false)
	w.Key("rule_id")
	w.String(r.ID)
	w.Key("tags")
	if r.Tags == nil {
		w.Begin(true)
		w.End(true)
	} else {
		w.Strings(r.Tags)
	}
	w.Key("type")
	w.String("new_terms")
	// Kibana's rule uuid is the id of the rule's saved object in one
	// Kibana; the rule_id is what identifies a rule here.
	w.Key("uuid")
	w.String(r.ID)
	w.End(false)
	w.Key("severity")
	w.String(r.Severity)
	w.Key("uuid")
	w.String(b2s(id))
	w.End(false)
	w.End(false)

	w.Key("message")
	w.String(b2s(msg))

	w.Key("newterms")
	w.Begin(false)
	w.Key("alert_id")
	w.String(b2s(id))
	w.Key("first_seen")
	w.sep()
	w.buf = append(w.buf, '"')
	w.buf = t.UTC().AppendFormat(w.buf, time.RFC3339Nano)
	w.buf = append(w.buf, '"')
	w.comma = true
	w.Key("history_window")
	w.String(r.WindowText)
	w.Key("rule")
	w.Begin(false)
	w.Key("description")
	w.String(r.Description)
	w.Key("id")
	w.String(r.ID)
	w.Key("key")
	w.String(r.Key)
	w.Key("name")
	w.String(r.Name)
	w.Key("risk_score")
	w.Int(int64(r.RiskScore))
	w.Key("severity")
	w.String(r.Severity)
	w.Key("tags")
	w.Strings(r.Tags)
	w.Key("threat")
	writeThreat(&w, r.Threat)
	w.End(false)
	// An object keyed by field, in the rule's order; kibana.alert.new_terms
	// is the same as an array.
	w.Key("terms")
	w.Begin(false)
	for i, f := range r.Fields {
		w.Key(f)
		w.String(in.Tuple[i])
	}
	w.End(false)
	w.End(false)

	return append(w.buf, '}')
}

// writeThreat writes the MITRE mapping as encoding/json writes []rules.Threat
// (the struct tags' names, empty references and lists left out).
func writeThreat(w *writer, threats []rules.Threat) {
	if threats == nil {
		w.Null()
		return
	}
	w.Begin(true)
	for _, t := range threats {
		w.Begin(false)
		w.Key("framework")
		w.String(t.Framework)
		w.Key("tactic")
		writeRef(w, t.Tactic, nil, false)
		if len(t.Techniques) > 0 {
			w.Key("technique")
			w.Begin(true)
			for _, tq := range t.Techniques {
				writeRef(w, tq.Ref, tq.Subtechniques, true)
			}
			w.End(true)
		}
		w.End(false)
	}
	w.End(true)
}

func writeRef(w *writer, r rules.Ref, subs []rules.Ref, technique bool) {
	w.Begin(false)
	w.Key("id")
	w.String(r.ID)
	w.Key("name")
	w.String(r.Name)
	if r.Reference != "" {
		w.Key("reference")
		w.String(r.Reference)
	}
	if technique && len(subs) > 0 {
		w.Key("subtechnique")
		w.Begin(true)
		for _, s := range subs {
			writeRef(w, s, nil, false)
		}
		w.End(true)
	}
	w.End(false)
}

// Message is the one line a person reads in Slack: who, which new values,
// which rule, over how many days.
func Message(in Input) string { return string(appendMessage(nil, in)) }

func appendMessage(dst []byte, in Input) []byte {
	r, ev := in.Rule, in.Event
	dst = append(dst, '[')
	dst = appendUpper(dst, r.Severity)
	dst = append(dst, "] "...)
	dst = append(dst, r.Name...)
	dst = append(dst, ": "...)
	if who := first(ev, "user.name", "user.id", "aws.cloudtrail.user_identity.arn", "aws.cloudtrail.user_identity.invoked_by"); who != "" {
		dst = append(dst, who...)
	} else {
		dst = append(dst, "an unknown identity"...)
	}
	dst = append(dst, " did "...)
	dst = append(dst, first(ev, "event.action")...)
	dst = append(dst, " with "...)
	for i, f := range r.Fields {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = append(dst, f...)
		dst = append(dst, '=')
		if f == rules.FieldASNumber && in.Enrichment.ASOrg != "" {
			dst = append(dst, "AS"...)
			dst = append(dst, in.Tuple[i]...)
			dst = append(dst, " ("...)
			dst = append(dst, in.Enrichment.ASOrg...)
			dst = append(dst, ')')
		} else {
			dst = append(dst, in.Tuple[i]...)
		}
	}
	dst = append(dst, ", not seen in the last "...)
	return appendDays(dst, r.Window)
}

// appendUpper is strings.ToUpper without its allocation for ASCII.
func appendUpper(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return append(dst, strings.ToUpper(s)...)
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// first is the first value of the first of fields the event has; borrowed
// like the event.
func first(ev *cloudtrail.Event, fields ...string) string {
	var buf [4]cloudtrail.Value
	for _, f := range fields {
		if v := ev.Get(f, buf[:0]); len(v) > 0 {
			return v[0].Str
		}
	}
	return ""
}

func appendDays(dst []byte, w time.Duration) []byte {
	if w%(24*time.Hour) == 0 {
		n := int64(w / (24 * time.Hour))
		if n == 1 {
			return append(dst, "day"...)
		}
		dst = strconv.AppendInt(dst, n, 10)
		return append(dst, " days"...)
	}
	return append(dst, w.String()...)
}

func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
