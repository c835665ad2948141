package testsupport

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
)

// LogEnv names the file a conformance suite appends its line to.
const LogEnv = "NEWTERMS_CONFORMANCE_LOG"

// Suite counts the cases of one conformance suite as they end.
type Suite struct {
	t    testing.TB
	name string

	mu                     sync.Mutex
	cases, failed, skipped int
	why                    string         // why the whole suite skipped
	reasons                []string       // why cases skipped, first seen first
	reasonCount            map[string]int // and how often
}

// Conformance starts counting the cases of the suite t runs, named name
// (package/suite). When t ends, the count is logged and appended to
// $NEWTERMS_CONFORMANCE_LOG when that is set.
func Conformance(t testing.TB, name string) *Suite {
	s := &Suite{t: t, name: name, reasonCount: map[string]int{}}
	t.Cleanup(s.report)
	return s
}

// Case counts c (a subtest of the suite's test, or that test itself) as
// one case, passed, failed or skipped as it ends.
func (s *Suite) Case(c testing.TB) {
	c.Cleanup(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.cases++
		switch {
		case c.Failed():
			s.failed++
		case c.Skipped():
			s.skipped++
		}
	})
}

// Skip skips t, the suite's test (the whole suite, with SkipOnce) or one
// of its cases, and records why for the suite's line.
func (s *Suite) Skip(t testing.TB, why string) {
	t.Helper()
	s.mu.Lock()
	whole := t == s.t
	if whole {
		s.why = why
	} else {
		if s.reasonCount[why] == 0 {
			s.reasons = append(s.reasons, why)
		}
		s.reasonCount[why]++
	}
	s.mu.Unlock()
	if whole {
		SkipOnce(t, why)
		return
	}
	t.Skip(why)
}

// Shared is Shared for the suite's test: a missing path skips the suite.
func (s *Suite) Shared(rel string) string {
	s.t.Helper()
	path, why := shared(rel)
	if why != "" {
		s.Skip(s.t, why)
	}
	return path
}

// Line is the suite's count as report writes it.
func (s *Suite) Line() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "conformance %s: %d case", s.name, s.cases)
	if s.cases != 1 {
		b.WriteString("s")
	}
	if s.cases == 0 && s.t.Skipped() {
		why := s.why
		if why == "" {
			why = "no reason given"
		}
		fmt.Fprintf(&b, ", skipped: %s", why)
		return b.String()
	}
	fmt.Fprintf(&b, ", %d passed", s.cases-s.failed-s.skipped)
	if s.failed > 0 {
		fmt.Fprintf(&b, ", %d failed", s.failed)
	}
	if s.skipped > 0 {
		fmt.Fprintf(&b, ", %d skipped", s.skipped)
		var whys []string
		for _, r := range s.reasons {
			if n := s.reasonCount[r]; n > 1 {
				r = fmt.Sprintf("%s (%d)", r, n)
			}
			whys = append(whys, r)
		}
		if len(whys) > 0 {
			fmt.Fprintf(&b, ": %s", strings.Join(whys, "; "))
		}
	}
	if s.t.Failed() && s.failed == 0 {
		b.WriteString(", failed outside its cases")
	}
	return b.String()
}

func (s *Suite) report() {
	line := s.Line()
	// A suite skipped whole has said why in its skip line already.
	if s.cases > 0 || !s.t.Skipped() {
		s.t.Log(line)
	}
	path := os.Getenv(LogEnv)
	if path == "" {
		return
	}
	// One write of a short line to a file opened for appending: the test
	// binaries of several packages write to it at once.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err == nil {
		_, err = f.WriteString(line + "\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		s.t.Errorf("%s: %v", LogEnv, err)
	}
}
