package seen_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/newterms/newterms/internal/logx"
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
		{"not a Redis server", seen.RedisOptions{Address: "unix://" + mute, Password: "wrong-password", Timeout: 300 * time.Millisecond}, []string{"mute.sock", "no answer within the timeout"}},
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

// One node at a time delivers the shared outbox: the other reads nothing
// until the first closes (and hands the lease over).
func TestRedisOutboxLease(t *testing.T) {
	srv := seentest.StartRedis(t)
	open := func() *seen.State {
		st, err := seen.OpenRedis(seen.RedisOptions{Address: srv.Addr(), KeyPrefix: "lease"})
		if err != nil {
			t.Fatal(err)
		}
		s, err := seen.Open(seen.Options{Store: st})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := open(), open()
	defer b.Close()
	for i, s := range []*seen.State{a, b} {
		bt := s.Begin(false)
		bt.AddAlert([]byte{'a' + byte(i)})
		if err := bt.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := b.OutboxSize(); n != 2 {
		t.Errorf("outbox size %d, want both nodes' 2", n)
	}
	got, err := a.Outbox(0, 0)
	if err != nil || len(got) != 2 {
		t.Fatalf("the first reader: %v, %v; want both alerts", got, err)
	}
	if other, err := b.Outbox(0, 0); err != nil || len(other) != 0 {
		t.Fatalf("the second reader, while the first holds the lease: %v, %v", other, err)
	}
	a.Close()
	if other, err := b.Outbox(0, 0); err != nil || len(other) != 2 {
		t.Fatalf("the second reader, once the first closed: %v, %v", other, err)
	}
}

// A full server (maxmemory, noeviction) refuses a commit before any
// write: the batch fails, nothing of it applied, and goes through once
// there is room.
func TestRedisOutOfMemory(t *testing.T) {
	srv := seentest.StartRedis(t, "--maxmemory-policy", "noeviction")
	st, err := seen.OpenRedis(seen.RedisOptions{Address: srv.Addr(), KeyPrefix: "oom"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := seen.Open(seen.Options{Store: st, NoLearning: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := srv.Client(t, "")
	ctx := context.Background()
	if err := c.Do(ctx, c.B().ConfigSet().ParameterValue().ParameterValue("maxmemory", "1").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	r := seen.Rule{Key: "r:1", Name: "r", Window: time.Hour}
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	run := func() error {
		b := s.Begin(false)
		if d, err := b.Check(r, []string{"a"}, t0, "e1"); d != seen.Novel || err != nil {
			t.Fatal(d, err)
		}
		b.AddAlert([]byte("alert"))
		return b.Commit()
	}
	if err := run(); err == nil || !strings.Contains(err.Error(), "OOM") {
		t.Fatalf("commit on a full server: %v, want its OOM error", err)
	}
	if n, _ := s.OutboxSize(); n != 0 {
		t.Errorf("%d alerts after a refused commit", n)
	}
	if ttls := seentest.TTLs(t, srv, "", "{oom}:t"); len(ttls) != 0 {
		t.Errorf("tuples after a refused commit: %v", ttls)
	}
	if err := c.Do(ctx, c.B().ConfigSet().ParameterValue().ParameterValue("maxmemory", "0").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if err := run(); err != nil {
		t.Fatalf("commit once there is room: %v", err)
	}
	if n, _ := s.OutboxSize(); n != 1 {
		t.Errorf("%d alerts, want 1", n)
	}
}

// An outage is logged once when it begins and once when it ends, however
// many calls fail in between.
func TestRedisOutageLoggedOnce(t *testing.T) {
	srv := seentest.StartRedis(t)
	var mu sync.Mutex
	var logs []string
	logf := func(l logx.Level, format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		logs = append(logs, l.String()+": "+fmt.Sprintf(format, args...))
	}
	st, err := seen.OpenRedis(seen.RedisOptions{Address: srv.Addr(), KeyPrefix: "outage", Log: logf, Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv.Kill()
	for range 20 {
		if _, _, err := st.Get([]byte("k")); !errors.Is(err, seen.ErrFailed) {
			t.Fatalf("with the server down: %v", err)
		}
	}
	srv.Start()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, _, err := st.Get([]byte("k"))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server back, still: %v", err)
		}
		time.Sleep(50 * time.Millisecond) // the store's backoff: at most 5 s
	}
	mu.Lock()
	defer mu.Unlock()
	if len(logs) != 2 || !strings.HasPrefix(logs[0], "error: ") || !strings.Contains(logs[0], "unreachable") || !strings.HasPrefix(logs[1], "info: ") {
		t.Fatalf("logs %q: want one error when the outage began, one info when it ended", logs)
	}
}
