package rules

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/newterms/newterms/internal/cloudtrail"
	"github.com/newterms/newterms/internal/testsupport"
)

// Elastic's own CloudTrail New Terms rules, unmodified: each file loads;
// none is skipped and none fails. Together they make one set whose index
// gives the verdicts of testing every rule.
func TestElasticRules(t *testing.T) {
	suite := testsupport.Conformance(t, "rules/elastic-rules")
	dir := suite.Shared("fixtures/elastic-rules")
	files, err := filepath.Glob(filepath.Join(dir, "*.toml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule files in %s (%v)", dir, err)
	}
	var loaded []*Rule
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			suite.Case(t)
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			r, skip, fail := Parse(f, data)
			switch {
			case fail != nil:
				t.Fatal(fail)
			case skip != "":
				t.Fatalf("skipped: %s", skip)
			}
			loaded = append(loaded, r)
		})
	}
	set, err := NewSet(loaded)
	if err != nil {
		t.Fatal(err)
	}
	for _, enr := range []Enrichment{{}, {HasAS: true, ASNumber: 16509, ASOrg: "Amazon.com, Inc."}} {
		each(t, set, func(int) Enrichment { return enr }, func(i int, d *Doc) {
			indexAgrees(t, set, i, d)
		})
	}
}

// The two rules keyed on entity.target.id match and give their terms as
// in Kibana: the role acted on, and no match when the policy attached is
// one of AWS's (related.entity holds its ARN).
func TestElasticEntityRules(t *testing.T) {
	dir := testsupport.Shared(t, "fixtures/elastic-rules")
	_, rep, err := Load(filepath.Join(dir, "privilege_escalation_iam_customer_managed_policy_attached_to_role.toml"),
		filepath.Join(dir, "privilege_escalation_iam_update_assume_role_policy.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Loaded) != 2 {
		t.Fatalf("loaded %d rules: %+v", len(rep.Loaded), rep)
	}
	set, err := NewSet(rep.Loaded)
	if err != nil {
		t.Fatal(err)
	}
	record := func(name, params string) string {
		return `{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLE:s","arn":"arn:aws:sts::111122223333:assumed-role/Admin/s",` +
			`"accountId":"111122223333","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/Admin","userName":"Admin"}}},` +
			`"eventTime":"2026-03-01T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"` + name + `","requestParameters":` + params + `}`
	}
	cases := []struct {
		rec  string
		want []string // rule name: tuple
	}{
		{record("AttachRolePolicy", `{"roleName":"payments-api","policyArn":"arn:aws:iam::111122223333:policy/payments-write"}`),
			[]string{"AWS IAM Customer-Managed Policy Attached to Role by Rare User: 111122223333|Admin|payments-api"}},
		{record("AttachRolePolicy", `{"roleName":"payments-api","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}`), nil},
		{record("UpdateAssumeRolePolicy", `{"roleName":"payments-api","policyDocument":"{}"}`),
			[]string{"AWS IAM Assume Role Policy Update: 111122223333|Admin|payments-api"}},
	}
	dec := cloudtrail.NewDecoder(cloudtrail.Options{})
	d := set.NewDoc()
	for _, c := range cases {
		var got []string
		dec.Decode([]byte(c.rec), func(ev *cloudtrail.Event) {
			d.Reset(ev, Enrichment{})
			set.Match(d, func(r *Rule) {
				r.Terms(d, 0, func(tu []string) { got = append(got, r.Name+": "+strings.Join(tu, "|")) })
			})
		})
		if !slices.Equal(got, c.want) {
			t.Errorf("%s:\n got %q\nwant %q", c.rec, got, c.want)
		}
	}
}
