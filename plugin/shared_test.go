package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/newterms/newterms/internal/seen/seentest"
)

// commitProxy sits between the plugin and its Redis server. It passes
// everything on until the plugin sends a commit that puts alerts into
// the outbox: it sends that commit on, lets the server run it, and gives
// the plugin nothing more, so that the server has recorded the batch (its
// tuples and its alerts) while the plugin never learns it: the moment
// between the server's write and the plugin's return of FLB_OK. Then it
// reports on committed.
type commitProxy struct {
	l         net.Listener
	server    string
	committed chan struct{}
	once      sync.Once
	armed     bool // false: pass everything
}

func newCommitProxy(t *testing.T, server, sock string, armed bool) *commitProxy {
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	p := &commitProxy{l: l, server: server, committed: make(chan struct{}), armed: armed}
	t.Cleanup(func() { l.Close() })
	go p.serve()
	return p
}

func (p *commitProxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("unix", p.server)
		if err != nil {
			c.Close()
			continue
		}
		go p.conn(c, s)
	}
}

// conn relays one connection; commands are RESP arrays of bulk strings.
func (p *commitProxy) conn(c, s net.Conn) {
	defer c.Close()
	defer s.Close()
	var mu sync.Mutex
	frozen := false
	go func() { // server to plugin
		r := bufio.NewReader(s)
		var held []byte
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			mu.Lock()
			f := frozen
			mu.Unlock()
			if f {
				// The replies after the freeze end with the PONG the
				// proxy asked for: the commit before it has run.
				held = append(held, buf[:n]...)
				if bytes.HasSuffix(held, []byte("+PONG\r\n")) {
					p.once.Do(func() { close(p.committed) })
					return
				}
			} else if _, err := c.Write(buf[:n]); err != nil {
				return
			}
			if err != nil {
				return
			}
		}
	}()
	r := bufio.NewReader(c)
	for {
		raw, args, err := readCommand(r)
		if err != nil {
			return
		}
		// EVALSHA sha 1 {p}:kv prefix counts...: the commit script; its
		// tenth argument counts the alerts.
		commit := len(args) > 13 && strings.EqualFold(args[0], "EVALSHA") && args[2] == "1" && strings.HasSuffix(args[3], ":kv")
		if p.armed && commit && args[13] != "0" {
			mu.Lock()
			frozen = true
			mu.Unlock()
			s.Write(raw)
			s.Write([]byte("*1\r\n$4\r\nPING\r\n"))
			io.Copy(io.Discard, r) // nothing more reaches the server
			return
		}
		if _, err := s.Write(raw); err != nil {
			return
		}
	}
}

// readCommand reads one RESP command: an array of bulk strings.
func readCommand(r *bufio.Reader) (raw []byte, args []string, err error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, nil, err
	}
	raw = append(raw, line...)
	if !strings.HasPrefix(line, "*") {
		return nil, nil, fmt.Errorf("not an array: %q", line)
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil {
		return nil, nil, err
	}
	for range n {
		h, err := r.ReadString('\n')
		if err != nil {
			return nil, nil, err
		}
		raw = append(raw, h...)
		size, err := strconv.Atoi(strings.TrimSpace(h[1:]))
		if err != nil || h[0] != '$' {
			return nil, nil, fmt.Errorf("not a bulk string: %q", h)
		}
		b := make([]byte, size+2)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, nil, err
		}
		raw = append(raw, b...)
		args = append(args, string(b[:size]))
	}
	return raw, args, nil
}

// A node on a shared state killed (SIGKILL) after the server recorded a
// batch with alerts and before the plugin returned: Fluent Bit retries
// the chunk at the restart. The retried chunk finds its tuples known, and
// the alerts the server recorded with them go out of the shared outbox:
// every alert of the oracle delivered, each once (the receiver is down
// while the node is killed, so nothing is in flight), none doubled.
func TestHarnessSharedCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the plugin")
	}
	srv := seentest.StartRedis(t)
	dir := t.TempDir()
	proxySock := filepath.Join(dir, "proxy.sock")
	s := newSetup(t, 3, 3000, 100, "state_backend redis", "redis_address unix://"+proxySock, "redis_key_prefix crash")
	next, kills := 0, 0
	for next < len(s.chunks) {
		proxy := newCommitProxy(t, srv.Sock, proxySock, kills < 3)
		cmd := exec.Command(harnessPath, append([]string{"-so", soPath, "-props", s.props}, s.chunks[next:]...)...)
		out, _ := cmd.StdoutPipe()
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		done, killed := 0, false
	run:
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					break run
				}
				if strings.HasPrefix(l, "flush ") {
					if !strings.HasSuffix(l, "rc 1") {
						t.Fatalf("flush failed: %s\n%s", l, stderr.String())
					}
					done++
				}
			case <-proxy.committed:
				cmd.Process.Signal(syscall.SIGKILL)
				killed = true
				kills++
				for l := range lines { // what it printed before it died
					if strings.HasPrefix(l, "flush ") {
						done++
					}
				}
				break run
			}
		}
		err := cmd.Wait()
		var exit *exec.ExitError
		if killed != (errors.As(err, &exit) && exit.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL) {
			t.Fatalf("killed %v, harness: %v\n%s", killed, err, stderr.String())
		}
		proxy.l.Close()
		next += done
		if !killed {
			break
		}
	}
	if kills != 3 {
		t.Fatalf("%d kills: the stream had too few alerts", kills)
	}
	// The receiver comes up; one more start delivers the shared outbox.
	// The killed node's delivery lease would lapse within 10 s: the test
	// lets it go at once.
	c := srv.Client(t, "")
	if err := c.Do(context.Background(), c.B().Del().Key("{crash}:lease").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	// The retried chunks added nothing: the outbox holds the oracle's
	// alerts, once each.
	waiting, err := c.Do(context.Background(), c.B().Get().Key("{crash}:ocount").Build()).AsInt64()
	if want := len(s.expected(t)); err != nil || waiting != int64(want) {
		t.Fatalf("%d alerts waiting (%v), the oracle expects %d", waiting, err, want)
	}
	r := listen(t, s.sock)
	proxy := newCommitProxy(t, srv.Sock, proxySock, false)
	defer proxy.l.Close()
	if _, err := harness(t, "-props", s.props); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, rec := range r.Records() {
		nt, _ := rec.Record["newterms"].(map[string]any)
		counts[fmt.Sprint(nt["alert_id"])]++
	}
	var got []string
	for id, n := range counts {
		got = append(got, id)
		if n != 1 {
			t.Errorf("alert %s delivered %d times", id, n)
		}
	}
	slices.Sort(got)
	if want := s.expected(t); !slices.Equal(got, want) {
		t.Fatalf("received %d alerts, the oracle expects %d", len(got), len(want))
	}
}
