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

func referenceID(ruleKey string, tuple []string, eventID string) string {
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

// reference is the builder this package had before Append: the event's
// Document as maps, encoded by encoding/json. Append's output, without the
// kibana.* fields it adds, must decode to the same content.
func reference(in Input) ([]byte, error) {
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
	id := referenceID(r.Key, in.Tuple, ev.ID())
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
	doc["message"] = referenceMessage(in)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("alert for rule %s: %w", r.ID, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func referenceMessage(in Input) string {
	r, ev := in.Rule, in.Event
	who := referenceFirst(ev, "user.name", "user.id", "aws.cloudtrail.user_identity.arn", "aws.cloudtrail.user_identity.invoked_by")
	if who == "" {
		who = "an unknown identity"
	}
	action := referenceFirst(ev, "event.action")
	var parts []string
	for i, f := range r.Fields {
		v := in.Tuple[i]
		if f == rules.FieldASNumber && in.Enrichment.ASOrg != "" {
			v = fmt.Sprintf("AS%s (%s)", v, in.Enrichment.ASOrg)
		}
		parts = append(parts, f+"="+v)
	}
	return fmt.Sprintf("[%s] %s: %s did %s with %s, not seen in the last %s",
		strings.ToUpper(r.Severity), r.Name, who, action, strings.Join(parts, ", "), referenceDays(r.Window))
}

func referenceFirst(ev *cloudtrail.Event, fields ...string) string {
	var buf [4]cloudtrail.Value
	for _, f := range fields {
		if v := ev.Get(f, buf[:0]); len(v) > 0 {
			return strings.Clone(v[0].Str)
		}
	}
	return ""
}

func referenceDays(w time.Duration) string {
	if w%(24*time.Hour) == 0 {
		n := int(w / (24 * time.Hour))
		if n == 1 {
			return "day"
		}
		return fmt.Sprintf("%d days", n)
	}
	return w.String()
}
