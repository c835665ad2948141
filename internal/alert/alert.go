// Package alert builds the documents that newterms emits for novel term
// tuples: the event's ECS document, the rule and the new terms, a
// deterministic alert id, and a one-line message for people.
package alert

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

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
	h := sha256.New()
	h.Write([]byte(ruleKey))
	for _, v := range tuple {
		h.Write([]byte{0})
		h.Write([]byte(v))
	}
	h.Write([]byte{0, 0})
	h.Write([]byte(eventID))
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// Build returns the alert document as JSON.
func Build(in Input) ([]byte, error) {
	r, ev := in.Rule, in.Event
	doc := ev.Document()
	if in.Enrichment.HasAS {
		as := map[string]any{"number": in.Enrichment.ASNumber}
		if in.Enrichment.ASOrg != "" {
			as["organization"] = map[string]any{"name": in.Enrichment.ASOrg}
		}
		source, _ := doc["source"].(map[string]any)
		if source == nil {
			source = map[string]any{}
			doc["source"] = source
		}
		source["as"] = as
	}
	event, _ := doc["event"].(map[string]any)
	if event == nil {
		event = map[string]any{}
		doc["event"] = event
	}
	event["kind"] = "alert"
	if in.IncludeOriginal {
		event["original"] = string(ev.Raw())
	}
	terms := map[string]any{}
	for i, f := range r.Fields {
		terms[f] = in.Tuple[i]
	}
	first, _ := ev.Time()
	id := ID(r.Key, in.Tuple, ev.ID())
	doc["newterms"] = map[string]any{
		"alert_id":       id,
		"terms":          terms,
		"history_window": r.WindowText,
		"first_seen":     first.UTC().Format(time.RFC3339Nano),
		"rule": map[string]any{
			"id": r.ID, "key": r.Key, "name": r.Name, "description": r.Description,
			"severity": r.Severity, "risk_score": r.RiskScore, "tags": r.Tags, "threat": r.Threat,
		},
	}
	doc["message"] = Message(in)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("alert for rule %s: %w", r.ID, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Message is the one line a person reads in Slack: who, which new values,
// which rule, over how many days.
func Message(in Input) string {
	r, ev := in.Rule, in.Event
	who := first(ev, "user.name", "user.id", "aws.cloudtrail.user_identity.arn", "aws.cloudtrail.user_identity.invoked_by")
	if who == "" {
		who = "an unknown identity"
	}
	action := first(ev, "event.action")
	var parts []string
	for i, f := range r.Fields {
		v := in.Tuple[i]
		if f == rules.FieldASNumber && in.Enrichment.ASOrg != "" {
			v = fmt.Sprintf("AS%s (%s)", v, in.Enrichment.ASOrg)
		}
		parts = append(parts, f+"="+v)
	}
	return fmt.Sprintf("[%s] %s: %s did %s with %s, not seen in the last %s",
		strings.ToUpper(r.Severity), r.Name, who, action, strings.Join(parts, ", "), days(r.Window))
}

func first(ev *cloudtrail.Event, fields ...string) string {
	var buf [4]cloudtrail.Value
	for _, f := range fields {
		if v := ev.Get(f, buf[:0]); len(v) > 0 {
			return strings.Clone(v[0].Str)
		}
	}
	return ""
}

func days(w time.Duration) string {
	if w%(24*time.Hour) == 0 {
		n := int(w / (24 * time.Hour))
		if n == 1 {
			return "day"
		}
		return fmt.Sprintf("%d days", n)
	}
	return w.String()
}
