package seen_test

import (
	"testing"

	"github.com/newterms/newterms/internal/seen"
	"github.com/newterms/newterms/internal/seen/seentest"
)

// The embedded store passes the suite every Store must pass.
func TestStoreConformance(t *testing.T) {
	n := seentest.Run(t, seentest.Backend{Name: "pebble", Open: func(t testing.TB, dir string) seen.Store {
		st, err := seen.OpenPebble(dir, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}})
	if n == 0 {
		t.Error("no case ran")
	}
}

// The shared store on a redis-server of the test's own passes it too;
// restarts restart the server, which keeps its data in an append-only
// file.
func TestRedisConformance(t *testing.T) {
	srv := seentest.StartRedis(t)
	if n := seentest.Run(t, seentest.RedisBackend(srv)); n == 0 {
		t.Error("no case ran")
	}
}
