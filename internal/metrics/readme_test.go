package metrics

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

var labels = regexp.MustCompile(`\{[^}]*\}`)

// The README's table of metrics names every family, and no other.
func TestREADME(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	start := strings.Index(doc, "<!-- metrics:")
	if start < 0 {
		t.Fatal("README: no metrics table")
	}
	table := doc[start:]
	table = table[:strings.Index(table, "\n\n")]
	named := map[string]bool{}
	for _, line := range strings.Split(table, "\n") {
		if !strings.HasPrefix(line, "| `") || strings.HasPrefix(line, "| metric") {
			continue
		}
		cell := labels.ReplaceAllString(strings.SplitN(line, "|", 3)[1], "")
		for _, part := range strings.Split(cell, ",") {
			named[strings.Trim(strings.TrimSpace(part), "`")] = true
		}
	}
	for _, f := range Families() {
		if !named[f.Name] {
			t.Errorf("README: %s is not in the metrics table", f.Name)
		}
		delete(named, f.Name)
	}
	for n := range named {
		t.Errorf("README: %s is no metric", n)
	}
}
