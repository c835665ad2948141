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

// lateMarker is a shared store on which another node begins the state
// between this node's read of the format marker and its scan for data:
// the first read finds no marker, the store then holds one.
type lateMarker struct {
	seen.Store
	reads int
}

func (l *lateMarker) Get(key []byte) ([]byte, bool, error) {
	if l.reads++; l.reads == 1 {
		return nil, false, nil
	}
	return l.Store.Get(key)
}

// Two nodes starting at once on one empty shared state: the second sees
// the first's data, then its marker, and opens the state (CI saw it
// refused as "data without a format marker").
func TestOpenBesideAnotherNode(t *testing.T) {
	mem := seentest.NewMem()
	first, err := seen.Open(seen.Options{Store: mem, CompactInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	second, err := seen.Open(seen.Options{Store: &lateMarker{Store: mem}, CompactInterval: -1})
	if err != nil {
		t.Fatalf("the second node: %v", err)
	}
	second.Close()
}
