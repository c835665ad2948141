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
	"sync"
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

// Builder builds alert documents. It keeps the part of the document that
// depends on the rule alone, which is most of what is not the event, for
// each rule it has seen: a Builder belongs with a loaded rule set. The zero
// value is ready; a Builder is not safe for concurrent use.
type Builder struct {
	rules map[*rules.Rule]*ruleParts
}

// ruleParts are a rule's members of kibana.alert and of newterms, encoded.
type ruleParts struct {
	kibana, newterms []byte
}

// Append appends the alert document of in, as one line of JSON, to dst.
// It cannot fail: every string is escaped, and whatever the record holds
// comes out as JSON.
//
// Top-level members: the event's ECS document (as Event.Document has it,
// with event.kind "alert", source.as.* from enrichment, event.original if
// asked for), then kibana, message and newterms.
func (b *Builder) Append(dst []byte, in Input) []byte {
	r, ev := in.Rule, in.Event
	var extra [4]cloudtrail.Extra // in path order
	n := 0
	extra[n] = cloudtrail.Extra{Path: "event.kind", Value: cloudtrail.StringValue("alert")}
	n++
	if in.IncludeOriginal {
		raw := ev.Raw()
		extra[n] = cloudtrail.Extra{Path: "event.original", Value: cloudtrail.StringValue(b2s(raw))}
		n++
	}
	var asText [20]byte
	if in.Enrichment.HasAS {
		num := strconv.AppendUint(asText[:0], uint64(in.Enrichment.ASNumber), 10)
		extra[n] = cloudtrail.Extra{Path: rules.FieldASNumber, Value: cloudtrail.Value{Kind: cloudtrail.Number, Str: b2s(num), Num: float64(in.Enrichment.ASNumber)}}
		n++
		if in.Enrichment.ASOrg != "" {
			extra[n] = cloudtrail.Extra{Path: rules.FieldASOrg, Value: cloudtrail.StringValue(in.Enrichment.ASOrg)}
			n++
		}
	}

	w := writer{buf: append(dst, '{')}
	ev.Walk(&w, extra[:n])

	parts := b.parts(r)
	var idBuf [32]byte
	id := b2s(appendID(idBuf[:0], r.Key, in.Tuple, ev.ID()))
	var msgBuf [512]byte
	msg := b2s(appendMessage(msgBuf[:0], in))
	t, hasTime := ev.Time()

	w.Name("kibana")
	w.Begin(false)
	w.Name("alert")
	w.Begin(false)
	w.Name("new_terms")
	w.Strings(in.Tuple)
	if hasTime {
		w.Name("original_time")
		w.Time(t, true) // as @timestamp
	}
	w.Name("reason")
	from := len(w.buf)
	w.String(msg)
	to := len(w.buf)
	w.Name("uuid")
	w.String(id)
	w.Raw(parts.kibana)
	w.End(false)
	w.End(false)

	w.Name("message")
	w.Raw(w.buf[from:to]) // the reason's string, escaped once

	w.Name("newterms")
	w.Begin(false)
	w.Name("alert_id")
	w.String(id)
	w.Name("first_seen")
	w.Time(t, false)
	// An object keyed by field, in the rule's order; kibana.alert.new_terms
	// is the same as an array.
	w.Name("terms")
	w.Begin(false)
	for i, f := range r.Fields {
		w.Key(f)
		w.String(in.Tuple[i])
	}
	w.End(false)
	w.Raw(parts.newterms)
	w.End(false)

	return append(w.buf, '}')
}

// parts returns the rule's members of kibana.alert and newterms, encoding
// them the first time.
func (b *Builder) parts(r *rules.Rule) *ruleParts {
	if p := b.rules[r]; p != nil {
		return p
	}
	if b.rules == nil {
		b.rules = map[*rules.Rule]*ruleParts{}
	}
	var w writer
	w.Name("risk_score")
	w.Int(int64(r.RiskScore))
	w.Name("rule")
	w.Begin(false)
	w.Name("name")
	w.String(r.Name)
	w.Name("parameters")
	w.Begin(false)
	w.Name("history_window_start")
	w.String(r.WindowText)
	w.Name("new_terms_fields")
	w.Strings(r.Fields)
	w.End(false)
	w.Name("rule_id")
	w.String(r.ID)
	w.Name("tags")
	if r.Tags == nil {
		w.Begin(true)
		w.End(true)
	} else {
		w.Strings(r.Tags)
	}
	w.Name("type")
	w.String("new_terms")
	// Kibana's rule uuid is the id of the rule's saved object in one
	// Kibana; the rule_id is what identifies a rule here.
	w.Name("uuid")
	w.String(r.ID)
	w.End(false)
	w.Name("severity")
	w.String(r.Severity)
	p := &ruleParts{kibana: w.buf}

	w = writer{}
	w.Name("history_window")
	w.String(r.WindowText)
	w.Name("rule")
	w.Begin(false)
	w.Name("description")
	w.String(r.Description)
	w.Name("id")
	w.String(r.ID)
	w.Name("key")
	w.String(r.Key)
	w.Name("name")
	w.String(r.Name)
	w.Name("risk_score")
	w.Int(int64(r.RiskScore))
	w.Name("severity")
	w.String(r.Severity)
	w.Name("tags")
	w.Strings(r.Tags)
	w.Name("threat")
	writeThreat(&w, r.Threat)
	w.End(false)
	p.newterms = w.buf
	b.rules[r] = p
	return p
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
		w.Name("framework")
		w.String(t.Framework)
		w.Name("tactic")
		writeRef(w, t.Tactic, nil, false)
		if len(t.Techniques) > 0 {
			w.Name("technique")
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
	w.Name("id")
	w.String(r.ID)
	w.Name("name")
	w.String(r.Name)
	if r.Reference != "" {
		w.Name("reference")
		w.String(r.Reference)
	}
	if technique && len(subs) > 0 {
		w.Name("subtechnique")
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
	vals := valuesPool.Get().(*[]cloudtrail.Value)
	defer valuesPool.Put(vals)
	for _, f := range fields {
		if *vals = ev.Get(f, (*vals)[:0]); len(*vals) > 0 {
			return (*vals)[0].Str
		}
	}
	return ""
}

// valuesPool saves first an allocation a call: a slice given to a getter
// escapes.
var valuesPool = sync.Pool{New: func() any { return new([]cloudtrail.Value) }}

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
