package testsupport

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// SharedEnv names a directory to use as the shared one: set it to a path
// that does not exist to run the tests as where nothing is shared.
const SharedEnv = "NEWTERMS_SHARED"

// SharedRoot is the shared directory: $NEWTERMS_SHARED, else shared/
// beside the repository (the parent of the directory holding go.mod).
func SharedRoot() (string, error) {
	if dir := os.Getenv(SharedEnv); dir != "" {
		return filepath.Abs(dir)
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(filepath.Dir(dir), "shared"), nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = up
	}
}

// locate returns the path of rel (slash-separated) under root and, when
// it is absent, the outermost part of it that is: root itself when nothing
// is shared, so that every test of a package names the same one.
func locate(root, rel string) (path, missing string) {
	path = root
	if _, err := os.Stat(path); err != nil {
		missing = path
	}
	for _, part := range strings.Split(rel, "/") {
		if part == "" {
			continue
		}
		path = filepath.Join(path, part)
		if missing == "" {
			if _, err := os.Stat(path); err != nil {
				missing = path
			}
		}
	}
	return path, missing
}

// Shared returns the path of rel (slash-separated, e.g.
// "fixtures/elastic-rules") in the shared directory, or skips t with one
// line naming the part that is missing.
func Shared(t testing.TB, rel string) string {
	t.Helper()
	path, why := shared(rel)
	if why != "" {
		SkipOnce(t, why)
	}
	return path
}

// SharedIfPresent is the path of rel in the shared directory, or "" when
// it is absent: for tests that fall back to data of their own.
func SharedIfPresent(rel string) string {
	if path, why := shared(rel); why == "" {
		return path
	}
	return ""
}

func shared(rel string) (path, why string) {
	root, err := SharedRoot()
	if err != nil {
		return "", fmt.Sprintf("shared directory: %v", err)
	}
	path, missing := locate(root, rel)
	if missing != "" {
		return path, missing + ": not present"
	}
	return path, ""
}

var (
	skipMu sync.Mutex
	said   = map[string]bool{}
)

// SkipOnce skips t, giving why only the first time this test binary skips
// for it: tests skipping for one reason take one line in `go test -v`.
func SkipOnce(t testing.TB, why string) {
	t.Helper()
	skipMu.Lock()
	first := !said[why]
	said[why] = true
	skipMu.Unlock()
	if first {
		t.Skip(why)
		return
	}
	t.SkipNow()
}
