package seen_test

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/newterms/newterms/internal/seen"
	"github.com/newterms/newterms/internal/seen/seentest"
)

// Bad configuration is an error at open that names the address and the
// cause, never the password.
func TestOpenRedisErrors(t *testing.T) {
	srv := seentest.StartRedis(t, "--requirepass", "right-password")
	noScripts := seentest.StartRedis(t, "--rename-command", "EVAL", "", "--rename-command", "EVALSHA", "", "--rename-command", "SCRIPT", "")
	// A unix socket that answers no Redis: it accepts and says nothing.
	dir := t.TempDir()
	mute := filepath.Join(dir, "mute.sock")
	l, err := net.Listen("unix", mute)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	// A prefix that holds another layout.
	st, err := seen.OpenRedis(seen.RedisOptions{Address: srv.Addr(), Password: "right-password", KeyPrefix: "old"})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	seentest.SetRaw(t, srv, "right-password", "{old}:layout", "newterms-redis 0")

	cases := []struct {
		name string
		o    seen.RedisOptions
		want []string
	}{
		{"wrong password", seen.RedisOptions{Address: srv.Addr(), Password: "wrong-password"}, []string{srv.Addr(), "authentication failed"}},
		{"no password", seen.RedisOptions{Address: srv.Addr()}, []string{srv.Addr(), "authentication failed"}},
		{"unknown scheme", seen.RedisOptions{Address: "memcached://localhost:11211", Password: "wrong-password"}, []string{"memcached://localhost:11211", `unknown scheme "memcached"`}},
		{"a password in the address", seen.RedisOptions{Address: "redis://:wrong-password@localhost:6379"}, []string{"set redis_password instead"}},
		{"nothing listens", seen.RedisOptions{Address: "unix://" + filepath.Join(dir, "none.sock"), Password: "wrong-password"}, []string{"none.sock", "cannot connect"}},
		{"not a Redis server", seen.RedisOptions{Address: "unix://" + mute, Password: "wrong-password", Timeout: 300 * time.Millisecond}, []string{"mute.sock"}},
		{"no scripting", seen.RedisOptions{Address: noScripts.Addr()}, []string{noScripts.Addr(), "does not run Lua scripts"}},
		{"a prefix of another layout", seen.RedisOptions{Address: srv.Addr(), Password: "right-password", KeyPrefix: "old"},
			[]string{srv.Addr(), `key prefix "old" holds another newterms layout ("newterms-redis 0"`}},
		{"a prefix with braces", seen.RedisOptions{Address: srv.Addr(), Password: "right-password", KeyPrefix: "a{b}"}, []string{"no braces"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, err := seen.OpenRedis(c.o)
			if err == nil {
				st.Close()
				t.Fatal("opened")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "password\"") || strings.Contains(err.Error(), "wrong-password") || strings.Contains(err.Error(), "right-password") {
				t.Errorf("error %q shows a password", err)
			}
		})
	}
}

// Tuples carry a TTL of window + margin, set again when last_seen is
// written; rule records and the outbox do not expire.
func TestRedisTTL(t *testing.T) {
	srv := seentest.StartRedis(t)
	st, err := seen.OpenRedis(seen.RedisOptions{Address: srv.Addr(), KeyPrefix: "ttl", TTLMargin: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	s, err := seen.Open(seen.Options{Store: st, NoLearning: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := seen.Rule{Key: "r:1", Name: "r", Window: 48 * time.Hour}
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	b := s.Begin(false)
	if d, err := b.Check(r, []string{"a"}, t0, "e1"); d != seen.Novel || err != nil {
		t.Fatal(d, err)
	}
	b.AddAlert([]byte("alert"))
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	want := (48*time.Hour + time.Hour).Milliseconds()
	ttls := seentest.TTLs(t, srv, "", "{ttl}:")
	var tuples int
	for k, ttl := range ttls {
		switch {
		case strings.HasPrefix(k, "{ttl}:t"):
			tuples++
			if ttl <= want-60000 || ttl > want {
				t.Errorf("tuple %q: TTL %d ms, want about %d", k, ttl, want)
			}
		case ttl != -1:
			t.Errorf("%q expires (TTL %d ms)", k, ttl)
		}
	}
	if tuples != 1 {
		t.Fatalf("%d tuple keys: %v", tuples, ttls)
	}
}
