package forward

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/newterms/newterms/internal/forward/forwardtest"
	"github.com/newterms/newterms/internal/seen"
)

func state(t *testing.T, n int) *seen.State {
	t.Helper()
	s, _ := openState(t, t.TempDir())
	b := s.Begin(false)
	for i := range n {
		sev := []string{"high", "low"}[i%2]
		b.AddAlert([]byte(fmt.Sprintf(`{"n":%d,"message":"alert %d","newterms":{"alert_id":"a%d","rule":{"id":"r%d","severity":"%s"}},"nested":{"x":[1,2.5,true,null]}}`, i, i, i, i%3, sev)))
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	return s
}

func sock(t *testing.T) string { return filepath.Join(t.TempDir(), "in_forward.sock") }

func fast(o Options) Options {
	o.MinBackoff, o.MaxBackoff, o.AckTimeout = time.Millisecond, 20*time.Millisecond, 2*time.Second
	return o
}

func TestDeliver(t *testing.T) {
	cases := []struct {
		name string
		recv forwardtest.Options
		opts Options
		n    int
	}{
		{"acks", forwardtest.Options{}, Options{MaxBatch: 7}, 25},
		{"late acks", forwardtest.Options{AckDelay: 50 * time.Millisecond}, Options{}, 5},
		{"dropped connections", forwardtest.Options{DropFirst: 2}, Options{MaxBatch: 4}, 10},
		{"shared key", forwardtest.Options{SharedKey: "s3cret"}, Options{SharedKey: "s3cret"}, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := sock(t)
			r, err := forwardtest.Listen("unix", path, c.recv)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			s := state(t, c.n)
			c.opts.Address = "unix://" + path
			snd, err := New(s, fast(c.opts))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { snd.Run(ctx); close(done) }()
			if !r.WaitFor(c.n, 10*time.Second) {
				t.Fatalf("received %d of %d", len(r.Records()), c.n)
			}
			cancel()
			<-done
			// Whatever Run had not seen acked by then goes out now (again,
			// at least once); after that the outbox is empty.
			if _, err := snd.Flush(5 * time.Second); err != nil {
				t.Fatal(err)
			}
			if n, _ := s.OutboxSize(); n != 0 {
				t.Fatalf("outbox holds %d", n)
			}
			ids := map[string]bool{}
			for _, rec := range r.Records() {
				nt, _ := rec.Record["newterms"].(map[string]any)
				ids[fmt.Sprint(nt["alert_id"])] = true
				if rec.Tag != "newterms.alert" {
					t.Errorf("tag %q", rec.Tag)
				}
			}
			if len(ids) != c.n {
				t.Errorf("%d distinct alerts, want %d", len(ids), c.n)
			}
		})
	}
}

// A receiver that is down: nothing is lost, nothing leaves the outbox,
// and everything goes out once it is up.
func TestReceiverDown(t *testing.T) {
	path := sock(t)
	s := state(t, 5)
	snd, err := New(s, fast(Options{Address: "unix://" + path}))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := snd.Flush(50 * time.Millisecond); n != 0 || err == nil {
		t.Fatalf("flush to nothing: %d %v", n, err)
	}
	if n, _ := s.OutboxSize(); n != 5 {
		t.Fatalf("outbox %d", n)
	}
	r, err := forwardtest.Listen("unix", path, forwardtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if n, err := snd.Flush(5 * time.Second); n != 5 || err != nil {
		t.Fatalf("flush: %d %v", n, err)
	}
	if len(r.Records()) != 5 {
		t.Errorf("received %d", len(r.Records()))
	}
}

func TestTags(t *testing.T) {
	path := sock(t)
	r, err := forwardtest.Listen("unix", path, forwardtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s := state(t, 4)
	snd, _ := New(s, fast(Options{Address: "unix://" + path, Tag: "alerts.{severity}.{rule_id}"}))
	if n, err := snd.Flush(5 * time.Second); n != 4 || err != nil {
		t.Fatal(n, err)
	}
	var tags []string
	for _, rec := range r.Records() {
		tags = append(tags, rec.Tag)
		if rec.Record["nested"].(map[string]any)["x"].([]any)[1] != 2.5 {
			t.Errorf("record not converted: %v", rec.Record)
		}
	}
	if got := strings.Join(tags, ","); got != "alerts.high.r0,alerts.low.r1,alerts.high.r2,alerts.low.r0" {
		t.Errorf("tags %s", got)
	}
}

func TestWrongKey(t *testing.T) {
	path := sock(t)
	r, _ := forwardtest.Listen("unix", path, forwardtest.Options{SharedKey: "right"})
	defer r.Close()
	s := state(t, 1)
	snd, _ := New(s, fast(Options{Address: "unix://" + path, SharedKey: "wrong"}))
	if _, err := snd.Flush(200 * time.Millisecond); err == nil {
		t.Fatal("delivered with a wrong key")
	}
	if n, _ := s.OutboxSize(); n != 1 {
		t.Error("alert left the outbox")
	}
}

func TestParseAddress(t *testing.T) {
	for in, want := range map[string]string{
		"unix:///run/fluent.sock": "unix /run/fluent.sock", "tcp://127.0.0.1:24224": "tcp 127.0.0.1:24224",
		"tcp://localhost": "error", "http://x:1": "error", "unix://": "error", "/run/x.sock": "error",
	} {
		n, a, err := ParseAddress(in)
		got := n + " " + a
		if err != nil {
			got = "error"
		}
		if got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}
