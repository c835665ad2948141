package rules

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/newterms/newterms/internal/testsupport"
)

// Elastic's own CloudTrail New Terms rules, unmodified: each file loads,
// or is skipped for a reason the loader gives (a field CloudTrail events
// never have); none fails. Together they make one set whose index gives
// the verdicts of testing every rule.
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
				suite.Skip(t, skip)
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
