package forward

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/newterms/newterms/internal/forward/forwardtest"
	"github.com/newterms/newterms/internal/seen"
)

// The seen state is an Outbox: seen.Alert and Alert are one type.
var _ Outbox = (*seen.State)(nil)

// listOutbox is an Outbox over a slice, recording how the sender uses it.
type listOutbox struct {
	mu        sync.Mutex
	alerts    []Alert  // waiting, by sequence number
	afters    []uint64 // the after of each Outbox call
	delivered [][]Alert
	reclaimed []uint64
}

func (o *listOutbox) Outbox(after uint64, max int) ([]Alert, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.afters = append(o.afters, after)
	var out []Alert
	for _, a := range o.alerts {
		if a.Seq > after && (max <= 0 || len(out) < max) {
			out = append(out, a)
		}
	}
	return out, nil
}

func (o *listOutbox) Delivered(alerts []Alert) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.delivered = append(o.delivered, alerts)
	o.alerts = slices.DeleteFunc(o.alerts, func(a Alert) bool {
		return a.Seq >= alerts[0].Seq && a.Seq <= alerts[len(alerts)-1].Seq
	})
	return nil
}

func (o *listOutbox) ReclaimOutbox(_ context.Context, through uint64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.reclaimed = append(o.reclaimed, through)
	return nil
}

func (o *listOutbox) OutboxSize() (count, bytes int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, a := range o.alerts {
		count, bytes = count+1, bytes+int64(len(a.Doc))
	}
	return count, bytes
}

// What the sender asks of an outbox: reads from a cursor that is the last
// sequence number delivered (numbers need not be consecutive), deliveries
// of exactly what was acknowledged, in order, and a reclaim through the
// cursor once a megabyte went out and the outbox is empty.
func TestOutboxContract(t *testing.T) {
	cases := []struct {
		name     string
		n, batch int
		docSize  int
		reclaim  bool
	}{
		{"empty", 0, 3, 10, false},
		{"one batch", 3, 5, 10, false},
		{"batches", 10, 3, 10, false},
		{"a megabyte: reclaimed at empty", 20, 8, 64 << 10, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := &listOutbox{}
			for i := range c.n {
				pad := strings.Repeat("x", c.docSize)
				o.alerts = append(o.alerts, Alert{Seq: uint64(10*i + 5), Doc: fmt.Appendf(nil, `{"n":%d,"pad":%q}`, i, pad)})
			}
			all := slices.Clone(o.alerts)
			path := sock(t)
			r, err := forwardtest.Listen("unix", path, forwardtest.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			snd, err := New(o, fast(Options{Address: "unix://" + path, MaxBatch: c.batch}))
			if err != nil {
				t.Fatal(err)
			}
			if got, err := snd.Drain(context.Background()); got != c.n || err != nil {
				t.Fatalf("drained %d of %d: %v", got, c.n, err)
			}
			if len(r.Records()) != c.n {
				t.Fatalf("received %d of %d", len(r.Records()), c.n)
			}
			wantAfters := []uint64{0}
			var flat []Alert
			for _, d := range o.delivered {
				if len(d) > c.batch {
					t.Errorf("a delivery of %d alerts, more than a batch (%d)", len(d), c.batch)
				}
				flat = append(flat, d...)
				wantAfters = append(wantAfters, d[len(d)-1].Seq)
			}
			if !slices.EqualFunc(flat, all, func(a, b Alert) bool { return a.Seq == b.Seq }) {
				t.Errorf("delivered %v, want every alert once, in order", flat)
			}
			if !slices.Equal(o.afters, wantAfters) {
				t.Errorf("read after %v, want %v (the cursor)", o.afters, wantAfters)
			}
			var wantReclaim []uint64
			if c.reclaim {
				wantReclaim = []uint64{all[len(all)-1].Seq}
			}
			if !slices.Equal(o.reclaimed, wantReclaim) {
				t.Errorf("reclaimed through %v, want %v", o.reclaimed, wantReclaim)
			}
			if n, _ := o.OutboxSize(); n != 0 {
				t.Errorf("%d alerts left", n)
			}
		})
	}
}
