package forward

import (
	"context"
	"testing"
	"time"

	"github.com/newterms/newterms/internal/forward/forwardtest"
)

// Stats count acknowledged alerts and failed attempts, and tell an
// outage while it lasts.
func TestStats(t *testing.T) {
	path := sock(t)
	s := state(t, 6)
	snd, err := New(s, fast(Options{Address: "unix://" + path, MaxBatch: 4}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { snd.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitStats(t, "failures while the receiver is down", snd, func(st Stats) bool { return st.Failures >= 2 && st.Failing })
	if st := snd.Stats(); st.Delivered != 0 {
		t.Fatalf("delivered %d with no receiver", st.Delivered)
	}
	// The first connection is dropped before any ack: one failure more.
	r, err := forwardtest.Listen("unix", path, forwardtest.Options{DropFirst: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	failures := snd.Stats().Failures
	waitStats(t, "every alert delivered", snd, func(st Stats) bool { return st.Delivered == 6 })
	st := snd.Stats()
	if st.Failing || st.Failures < failures+1 {
		t.Errorf("after recovery: %+v (failures before the receiver came up: %d)", st, failures)
	}
}

func waitStats(t *testing.T, what string, snd *Sender, cond func(Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond(snd.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s: %+v", what, snd.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
