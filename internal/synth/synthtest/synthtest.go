// Package synthtest gives tests the oracle's alerts for the two seed
// rules of conf/rules, as loaded from their files.
package synthtest

import (
	"testing"
	"time"

	"github.com/newterms/newterms/internal/alert"
	"github.com/newterms/newterms/internal/rules"
	"github.com/newterms/newterms/internal/synth"
)

// The seed rules' ids (conf/rules): the role's and the subject's.
const (
	RoleRuleID    = "7f3c2a10-5b1e-4c55-9d0a-2e6f1b8c4a01"
	SubjectRuleID = "7f3c2a10-5b1e-4c55-9d0a-2e6f1b8c4a02"
)

// Keys are the keys the seed rules in the files role and subject load
// with.
func Keys(t testing.TB, role, subject string) (roleKey, subjectKey string) {
	t.Helper()
	set, _, err := rules.Load(role, subject)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	for _, r := range set.Rules() {
		keys[r.ID] = r.Key
	}
	return keys[RoleRuleID], keys[SubjectRuleID]
}

// Expected is synth.Expected for the seed rules in the files role and
// subject, and the ids of those alerts.
func Expected(t testing.TB, role, subject string, events []synth.Event) ([]synth.Alert, []string) {
	t.Helper()
	roleKey, subjectKey := Keys(t, role, subject)
	alerts := synth.Expected(events, roleKey, subjectKey, 10*24*time.Hour)
	ids := make([]string, len(alerts))
	for i, a := range alerts {
		ids[i] = alert.ID(a.RuleKey, a.Tuple, a.EventID)
	}
	return alerts, ids
}
