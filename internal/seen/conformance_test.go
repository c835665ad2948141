package seen_test

import (
	"testing"

	"github.com/newterms/newterms/internal/seen"
	"github.com/newterms/newterms/internal/seen/seentest"
)

// The embedded store passes the suite every Store must pass.
func TestStoreConformance(t *testing.T) {
	n := seentest.Run(t, seentest.Backend{Name: "pebble", Open: func(t testing.TB, dir string) seen.Store {
		st, err := seen.OpenPebble(dir)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}})
	if n == 0 {
		t.Error("no case ran")
	}
}
