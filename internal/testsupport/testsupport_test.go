package testsupport

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fake is a testing.TB whose outcome a test sets, and whose skips return
// (a real Skip never does: callers do nothing after one).
type fake struct {
	testing.TB // nil: any other method panics
	failed     bool
	skipped    bool
	skips      []string // what each Skip said; "" for SkipNow
	logs       []string
	errors     []string
	cleanups   []func()
}

func (f *fake) Helper()                   {}
func (f *fake) Cleanup(fn func())         { f.cleanups = append(f.cleanups, fn) }
func (f *fake) Failed() bool              { return f.failed }
func (f *fake) Skipped() bool             { return f.skipped }
func (f *fake) Skip(args ...any)          { f.skipped = true; f.skips = append(f.skips, fmt.Sprint(args...)) }
func (f *fake) SkipNow()                  { f.skipped = true; f.skips = append(f.skips, "") }
func (f *fake) Log(args ...any)           { f.logs = append(f.logs, fmt.Sprint(args...)) }
func (f *fake) Errorf(s string, a ...any) { f.errors = append(f.errors, fmt.Sprintf(s, a...)) }

// end runs the cleanups, last registered first, as testing does.
func (f *fake) end() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

func TestLocate(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "fixtures", "rules"), 0o755); err != nil {
		t.Fatal(err)
	}
	gone := filepath.Join(root, "gone")
	cases := []struct {
		root, rel     string
		path, missing string
	}{
		{root, "fixtures/rules", filepath.Join(root, "fixtures", "rules"), ""},
		{root, "fixtures", filepath.Join(root, "fixtures"), ""},
		{root, "fixtures/rules/x.toml", filepath.Join(root, "fixtures", "rules", "x.toml"), filepath.Join(root, "fixtures", "rules", "x.toml")},
		{root, "fixtures/none/deeper", filepath.Join(root, "fixtures", "none", "deeper"), filepath.Join(root, "fixtures", "none")},
		{gone, "fixtures/rules", filepath.Join(gone, "fixtures", "rules"), gone},
	}
	for _, c := range cases {
		path, missing := locate(c.root, c.rel)
		if path != c.path || missing != c.missing {
			t.Errorf("locate(%s, %s) = %s, %q; want %s, %q", c.root, c.rel, path, missing, c.path, c.missing)
		}
	}
}

func TestShared(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "here"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(SharedEnv, root)
	f := &fake{}
	if p := Shared(f, "here"); p != filepath.Join(root, "here") || f.skipped {
		t.Errorf("present: %s, skipped %v", p, f.skipped)
	}
	// Two tests missing the same path: the first says so, the second
	// skips without a word.
	first, second := &fake{}, &fake{}
	Shared(first, "absent/x")
	Shared(second, "absent/y")
	want := filepath.Join(root, "absent") + ": not present"
	if strings.Join(first.skips, "|") != want || strings.Join(second.skips, "|") != "" || !second.skipped {
		t.Errorf("skips %q then %q, want %q then one silent", first.skips, second.skips, want)
	}
	// Without the override, shared/ beside the repository.
	t.Setenv(SharedEnv, "")
	got, err := SharedRoot()
	wd, _ := os.Getwd()
	if want := filepath.Join(wd, "..", "..", "..", "shared"); err != nil || got != filepath.Clean(want) {
		t.Errorf("SharedRoot() = %s, %v; want %s", got, err, want)
	}
}

func TestConformance(t *testing.T) {
	type outcome int
	const (
		pass outcome = iota
		fail
		skip
	)
	cases := []struct {
		name      string
		cases     []outcome
		whys      []string // why each skipped case skipped
		whole     string   // why the whole suite skipped
		suiteFail bool     // a failure outside the cases
		want      string
	}{
		{name: "all pass", cases: []outcome{pass, pass, pass},
			want: "conformance p/all pass: 3 cases, 3 passed"},
		{name: "mixed", cases: []outcome{pass, fail, skip, skip, skip}, whys: []string{"a", "b", "a"},
			want: "conformance p/mixed: 5 cases, 1 passed, 1 failed, 3 skipped: a (2); b"},
		{name: "none", want: "conformance p/none: 0 cases, 0 passed"},
		{name: "skipped whole", whole: "/x/shared: not present",
			want: "conformance p/skipped whole: 0 cases, skipped: /x/shared: not present"},
		{name: "failed outside", cases: []outcome{pass}, suiteFail: true,
			want: "conformance p/failed outside: 1 case, 1 passed, failed outside its cases"},
	}
	log := filepath.Join(t.TempDir(), "conformance.txt")
	t.Setenv(LogEnv, log)
	var lines []string
	for _, c := range cases {
		suite := &fake{}
		s := Conformance(suite, "p/"+c.name)
		whys := c.whys
		for _, o := range c.cases {
			sub := &fake{}
			s.Case(sub)
			switch o {
			case fail:
				sub.failed = true
			case skip:
				s.Skip(sub, whys[0])
				whys = whys[1:]
			}
			sub.end()
		}
		if c.whole != "" {
			s.Skip(suite, c.whole)
		}
		suite.failed = c.suiteFail
		suite.end()
		if got := s.Line(); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
		// Logged, unless skipped whole (its skip line says why).
		if logged := strings.Join(suite.logs, "|"); (c.whole == "") != (logged == c.want) {
			t.Errorf("%s: logged %q", c.name, logged)
		}
		if len(suite.errors) > 0 {
			t.Errorf("%s: %v", c.name, suite.errors)
		}
		lines = append(lines, c.want)
	}
	data, err := os.ReadFile(log)
	if err != nil || string(data) != strings.Join(lines, "\n")+"\n" {
		t.Errorf("log file %q (%v), want %q", data, err, lines)
	}
	// A log that cannot be written fails the suite's test.
	t.Setenv(LogEnv, filepath.Join(t.TempDir(), "no", "such", "dir"))
	f := &fake{}
	Conformance(f, "p/unwritable")
	f.end()
	if len(f.errors) != 1 {
		t.Errorf("unwritable log: errors %q", f.errors)
	}
}
