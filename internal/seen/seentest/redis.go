package seentest

import (
	"context"
	"crypto/tls"
	"net"

	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"github.com/redis/rueidis"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/newterms/newterms/internal/seen"
)

// RedisServer is a redis-server of a test's own, on a unix socket in a
// temporary directory, with its data in an append-only file synced at
// every write (appendfsync always): a restart keeps every commit.
type RedisServer struct {
	t    testing.TB
	Dir  string
	Sock string
	args []string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// RedisBinary is the redis-server to run: $NEWTERMS_REDIS_SERVER, or the
// one on PATH. The test skips, with one line, when there is none.
func RedisBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("NEWTERMS_REDIS_SERVER"); p != "" {
		return p
	}
	p, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not found on PATH (Debian: apt-get install redis-server; or set NEWTERMS_REDIS_SERVER)")
	}
	return p
}

// StartRedis starts a server for the test, stopped at its end; extra are
// more configuration arguments ("--requirepass", "x").
func StartRedis(t testing.TB, extra ...string) *RedisServer {
	t.Helper()
	bin := RedisBinary(t)
	dir := t.TempDir()
	r := &RedisServer{t: t, Dir: dir, Sock: filepath.Join(dir, "redis.sock")}
	r.args = append([]string{bin, "--port", "0", "--unixsocket", r.Sock, "--unixsocketperm", "700", "--dir", dir,
		"--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no", "--loglevel", "notice"}, extra...)
	r.Start()
	t.Cleanup(r.Kill)
	return r
}

// Addr is the server's address as redis_address takes it.
func (r *RedisServer) Addr() string { return "unix://" + r.Sock }

// Start starts the server (again) and returns once it accepts
// connections, its data loaded: it says so on its log.
func (r *RedisServer) Start() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		r.t.Fatal("seentest: redis-server already running")
	}
	cmd := exec.Command(r.args[0], r.args[1:]...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		r.t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("seentest: start redis-server: %v", err)
	}
	// Its log says when it accepts connections (Redis 7.0: "The server is
	// now ready to accept connections", 7.2 and Valkey: "Ready to accept
	// connections"); until then the lines are kept for the error.
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var log strings.Builder
	timeout := time.After(30 * time.Second)
	for ready := false; !ready; {
		select {
		case l, ok := <-lines:
			if !ok {
				cmd.Wait()
				r.t.Fatalf("seentest: redis-server exited:\n%s", log.String())
			}
			log.WriteString(l + "\n")
			ready = strings.Contains(strings.ToLower(l), "ready to accept connections")
		case <-timeout:
			cmd.Process.Kill()
			cmd.Wait()
			r.t.Fatalf("seentest: redis-server did not start within 30 s:\n%s", log.String())
		}
	}
	go func() { // the rest of its log, so that it never blocks on it
		for range lines {
		}
	}()
	r.cmd = cmd
}

// Stop shuts the server down (SIGTERM: it flushes its append-only file).
func (r *RedisServer) Stop() { r.signal(syscall.SIGTERM) }

// Kill kills the server (SIGKILL).
func (r *RedisServer) Kill() { r.signal(syscall.SIGKILL) }

func (r *RedisServer) signal(sig syscall.Signal) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Signal(sig)
	r.cmd.Wait()
	r.cmd = nil
}

// Restart stops and starts the server: what it keeps is what its
// append-only file holds.
func (r *RedisServer) Restart() {
	r.t.Helper()
	r.Stop()
	r.Start()
}

// RedisBackend is the conformance suite's backend over one server: each
// directory is a key prefix of its own, and a restart restarts the
// server.
func RedisBackend(srv *RedisServer) Backend {
	return Backend{
		Name: "redis",
		Open: func(t testing.TB, dir string) seen.Store {
			t.Helper()
			st, err := seen.OpenRedis(seen.RedisOptions{Address: srv.Addr(), KeyPrefix: Prefix(dir)})
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
		Restart: func(t testing.TB, dir string) { srv.Restart() },
		NoHold:  true,
	}
}

// Prefix is a key prefix of a test's own, made from a directory.
func Prefix(dir string) string {
	h := sha256.Sum256([]byte(dir))
	return fmt.Sprintf("nt-%s", hex.EncodeToString(h[:6]))
}

// Client is a plain client of the server, for tests that look at its
// keys; closed at the test's end.
func (r *RedisServer) Client(t testing.TB, password string) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{r.Sock}, Password: password, DisableCache: true, ForceSingleClient: true,
		DialCtxFn: func(ctx context.Context, path string, d *net.Dialer, _ *tls.Config) (net.Conn, error) {
			return d.DialContext(ctx, "unix", path)
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// SetRaw sets a key on the server as it is.
func SetRaw(t testing.TB, r *RedisServer, password, key, val string) {
	t.Helper()
	c := r.Client(t, password)
	if err := c.Do(context.Background(), c.B().Set().Key(key).Value(val).Build()).Error(); err != nil {
		t.Fatal(err)
	}
}

// TTLs are the keys with the prefix and their time to live in ms (-1:
// none).
func TTLs(t testing.TB, r *RedisServer, password, prefix string) map[string]int64 {
	t.Helper()
	c := r.Client(t, password)
	ctx := context.Background()
	keys, err := c.Do(ctx, c.B().Keys().Pattern(prefix+"*").Build()).AsStrSlice()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, k := range keys {
		if out[k], err = c.Do(ctx, c.B().Pttl().Key(k).Build()).AsInt64(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}
