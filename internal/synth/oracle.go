package synth

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Alert is one alert the oracle expects.
type Alert struct {
	RuleKey string
	Tuple   []string
	EventID string
	Index   int // position in the stream
}

// Expected is the oracle: it computes the alerts of the two seed rules
// (conf/rules: the web identity's role, or subject, with source.as.number
// in a 10-day window) by brute force from the semantics of docs/design.md over
// the whole history, processed in stream order: a tuple is novel when the
// latest earlier event with it is more than a window before (or there is
// none), and a rule alerts once its earliest matching event lies a whole
// window before the event.
func Expected(events []Event, roleKey, subjectKey string, window time.Duration) []Alert {
	type hist struct{ last time.Time }
	seenT := map[string]*hist{}
	earliest := map[string]time.Time{}
	var out []Alert
	for i, ev := range events {
		if ev.Action != "AssumeRoleWithWebIdentity" || !ev.Success || ev.ASN == 0 {
			continue
		}
		asn := fmt.Sprint(ev.ASN)
		var roles []string
		for _, r := range ev.Roles {
			if !slices.Contains(roles, r) {
				roles = append(roles, r)
			}
		}
		tuples := map[string][][]string{subjectKey: {{ev.Subject, asn}}}
		for _, r := range roles {
			tuples[roleKey] = append(tuples[roleKey], []string{r, asn})
		}
		for _, rk := range []string{roleKey, subjectKey} {
			for _, tu := range tuples[rk] {
				if e, ok := earliest[rk]; !ok || ev.Time.Before(e) {
					earliest[rk] = ev.Time
				}
				k := rk + "\x00" + strings.Join(tu, "\x00")
				h := seenT[k]
				novel := h == nil || ev.Time.Sub(h.last) > window
				if h == nil {
					h = &hist{last: ev.Time}
					seenT[k] = h
				} else if novel || ev.Time.After(h.last) {
					h.last = ev.Time
				}
				if novel && !earliest[rk].After(ev.Time.Add(-window)) {
					out = append(out, Alert{RuleKey: rk, Tuple: tu, EventID: ev.ID, Index: i})
				}
			}
		}
	}
	return out
}
