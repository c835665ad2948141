// Package forward delivers the alert outbox to Fluent Bit's in_forward over
// the Forward protocol: Forward-mode messages [tag, [[time, record]...],
// {"chunk": id, "size": n}], each acknowledged with {"ack": id}. An alert
// leaves the outbox only after its message is acknowledged, so a receiver
// that is down, refuses or drops the connection loses nothing; the outbox is
// on disk, so waiting costs no memory.
//
// Not IBM/fluent-forward-go (v0.4.0): its handshake decodes HELO's nonce as
// msgpack bin, while Fluent Bit's in_forward sends a str, so a shared key
// fails against Fluent Bit (checked with 5.1.1); this client takes both.
package forward

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/url"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tinylib/msgp/msgp"
	"github.com/valyala/fastjson"

	"github.com/newterms/newterms/internal/flb"
	"github.com/newterms/newterms/internal/logx"
)

// Outbox is the durable queue of alert documents the sender drains; the
// seen state's outbox (*seen.State) is one. The sender is its only reader.
type Outbox interface {
	// Outbox lists up to max alerts with a sequence number above after, in
	// order: after is the sender's cursor, the last one it delivered.
	Outbox(after uint64, max int) ([]Alert, error)
	// Delivered removes acknowledged alerts: those of one Outbox call, or
	// its beginning.
	Delivered(alerts []Alert) error
	// ReclaimOutbox gives back the space of what was delivered, through
	// the given sequence number.
	ReclaimOutbox(ctx context.Context, through uint64) error
	// OutboxSize is the number of alerts waiting and their bytes.
	OutboxSize() (count, bytes int64)
}

// Alert is one outbox entry: its sequence number, and the alert document
// (JSON). It is an alias of an unnamed struct type, as seen.Alert is, so
// the two are one type: the seen state implements Outbox while neither
// package imports the other, and a read is not copied to be handed over.
type Alert = struct {
	Seq uint64
	Doc []byte
}

// Options configure a Sender.
type Options struct {
	// Address is unix:///path or tcp://host:port.
	Address string
	// SharedKey, when set, answers in_forward's HELO with the handshake.
	SharedKey string
	// Tag is the alert tag; {rule_id} and {severity} are filled per alert.
	Tag string
	// MaxBatch bounds the alerts read from the outbox at a time, all in
	// flight together (default 1000).
	MaxBatch int
	// AckTimeout bounds the wait for an ack (default 30s).
	AckTimeout time.Duration
	// Backoff between failed attempts: from MinBackoff doubling to
	// MaxBackoff, with jitter (defaults 200ms and 30s).
	MinBackoff, MaxBackoff time.Duration
	// StopGrace is how long an attempt in flight may go on once Run's
	// context ends (default 0: interrupted at once).
	StopGrace time.Duration
	// Log reports problems at error level (the first failure of an
	// outage, with its cause, not each retry; a panic; a failed reclaim)
	// and the end of an outage at info; nil discards.
	Log logx.Func
}

// maxMessage bounds a Forward message's bytes, well below in_forward's
// default buffer_max_size (6 MB), which drops the connection when exceeded.
const maxMessage = 1 << 20

// The sender compacts the delivered part of the outbox once the outbox is
// empty and at least reclaimAtEmpty bytes went out since the last time,
// and, should it never empty, every reclaimEvery bytes. Measured on
// 200,000 alerts (460 MB): compacting once at the end took 1.7 s; every
// 64 MiB on the way, 1.5 s each time, and halved the delivery rate.
const (
	reclaimAtEmpty = 1 << 20
	reclaimEvery   = 1 << 30
)

// ParseAddress checks an address of the form unix:///path or
// tcp://host:port and returns the network and address to dial.
func ParseAddress(s string) (network, addr string, err error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", "", fmt.Errorf("forward address %q: %v", s, err)
	}
	switch u.Scheme {
	case "unix":
		if u.Path == "" {
			return "", "", fmt.Errorf("forward address %q: want unix:///path/to/socket", s)
		}
		return "unix", u.Path, nil
	case "tcp":
		if u.Host == "" || u.Port() == "" {
			return "", "", fmt.Errorf("forward address %q: want tcp://host:port", s)
		}
		return "tcp", u.Host, nil
	}
	return "", "", fmt.Errorf("forward address %q: scheme must be unix or tcp", s)
}

// Sender drains one outbox. Run, Drain and Flush are not to be
// called concurrently: one goroutine delivers.
type Sender struct {
	opts    Options
	outbox  Outbox
	network string
	addr    string
	conn    net.Conn
	r       *msgp.Reader // reads the connection's replies
	wake    chan struct{}

	// cursor is the last seq delivered: the next read seeks past it, and
	// past the deleted range below it.
	cursor       uint64
	sinceReclaim int64 // bytes delivered since the outbox was last compacted
	outage       *outage
	msg          []byte // scratch: the messages of a batch
	body         []byte // scratch: the entries of a message
	parser       fastjson.Parser
	testHook     func(event string) // called at "attempt", "handshake", "write"

	// What Stats reports, read from other goroutines.
	delivered atomic.Int64
	failures  atomic.Int64
	failing   atomic.Bool
}

// Stats are a sender's counters since New.
type Stats struct {
	// Delivered is the number of alerts acknowledged by the receiver.
	Delivered int64
	// Failures is the number of failed delivery attempts (each retry of
	// an outage counts).
	Failures int64
	// Failing: the last attempt failed, and delivery is backing off.
	Failing bool
}

// Stats snapshots the counters; safe from any goroutine.
func (s *Sender) Stats() Stats {
	return Stats{Delivered: s.delivered.Load(), Failures: s.failures.Load(), Failing: s.failing.Load()}
}

// outage is a run of failed attempts, reported when it starts and ends.
type outage struct {
	since    time.Time
	attempts int
	panicked bool
}

// New returns a sender of outbox's alerts; Run does the work.
func New(outbox Outbox, opts Options) (*Sender, error) {
	network, addr, err := ParseAddress(opts.Address)
	if err != nil {
		return nil, err
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 1000
	}
	if opts.AckTimeout <= 0 {
		opts.AckTimeout = 30 * time.Second
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 200 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	if opts.Tag == "" {
		opts.Tag = "newterms.alert"
	}
	return &Sender{opts: opts, outbox: outbox, network: network, addr: addr, wake: make(chan struct{}, 1)}, nil
}

// Notify tells the sender that the outbox has new alerts. It never blocks:
// a flush must not wait on delivery.
func (s *Sender) Notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends; it waits for Notify (or a poll interval)
// when the outbox is empty and backs off when delivery fails. Cancelling
// ctx interrupts a pending write or ack wait at once. A panic in an
// attempt is a failed attempt: the sender lives on.
func (s *Sender) Run(ctx context.Context) {
	defer s.close()
	// An attempt in flight when ctx ends may go on for StopGrace: its ack
	// then deletes what it delivered, which would otherwise go out again.
	actx, interrupt := context.WithCancel(context.WithoutCancel(ctx))
	defer interrupt()
	defer context.AfterFunc(ctx, func() { time.AfterFunc(s.opts.StopGrace, interrupt) })()
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		sent, err := s.attempt(actx, true)
		switch {
		case ctx.Err() != nil:
			// Interrupted by the end of Run, not a failure.
			return
		case err != nil:
			s.failed(err)
			backoff = s.nextBackoff(backoff)
			if !sleep(ctx, backoff) {
				return
			}
		default:
			backoff = 0
			s.recovered(sent)
			if sent == 0 {
				select {
				case <-ctx.Done():
					return
				case <-s.wake:
				case <-time.After(time.Second):
				}
			}
		}
	}
}

// failed reports the first failure of an outage, and its first panic
// with the stack; the retries that follow are silent until delivery
// recovers.
func (s *Sender) failed(err error) {
	s.failures.Add(1)
	s.failing.Store(true)
	first := s.outage == nil
	if first {
		s.outage = &outage{since: time.Now()}
	}
	s.outage.attempts++
	var p *panicError
	switch {
	case errors.As(err, &p) && !s.outage.panicked:
		s.outage.panicked = true
		s.opts.Log.Errorf("forward to %s: %v; retrying with backoff (%d alerts waiting)\n%s", s.opts.Address, err, s.waiting(), p.stack)
	case first:
		s.opts.Log.Errorf("forward to %s failed, retrying with backoff (%d alerts waiting): %v", s.opts.Address, s.waiting(), err)
	}
}

// recovered reports the end of an outage, once an attempt succeeded.
func (s *Sender) recovered(sent int) {
	s.failing.Store(false)
	if s.outage == nil {
		return
	}
	s.opts.Log.Infof("forward to %s recovered after %s and %d failed attempts: %d alerts had waited",
		s.opts.Address, time.Since(s.outage.since).Round(time.Millisecond), s.outage.attempts, s.waiting()+int64(sent))
	s.outage = nil
}

func (s *Sender) waiting() int64 { n, _ := s.outbox.OutboxSize(); return n }

func (s *Sender) nextBackoff(prev time.Duration) time.Duration {
	next := max(prev*2, s.opts.MinBackoff)
	next = min(next, s.opts.MaxBackoff)
	// Full jitter on half the interval: reconnecting senders spread out.
	return next/2 + time.Duration(mrand.Int64N(int64(next/2)+1))
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Drain sends the outbox until it is empty or a delivery fails, and
// returns how many alerts were acknowledged.
func (s *Sender) Drain(ctx context.Context) (int, error) {
	return s.drain(ctx, true)
}

// drain is Drain; reclaim says whether to compact the delivered outbox
// on the way, which the exit's Flush does not: pebble's Close would wait
// for a compaction under way.
func (s *Sender) drain(ctx context.Context, reclaim bool) (int, error) {
	total := 0
	for ctx.Err() == nil {
		n, err := s.attempt(ctx, reclaim)
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
	return total, ctx.Err()
}

// panicError is a panic recovered in an attempt.
type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("panic: %v", e.value) }

// attempt delivers one batch from the cursor on and returns how many
// alerts were acknowledged; reclaim lets it compact what was delivered.
// A panic becomes its error, and drops the connection, whose state it no
// longer knows.
func (s *Sender) attempt(ctx context.Context, reclaim bool) (n int, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.close()
			n, err = 0, &panicError{value: r, stack: debug.Stack()}
		}
	}()
	s.hook("attempt")
	alerts, err := s.outbox.Outbox(s.cursor, s.opts.MaxBatch)
	if err != nil {
		return 0, fmt.Errorf("outbox: %w", err)
	}
	if len(alerts) == 0 {
		if reclaim {
			s.maybeReclaim(ctx, true)
		}
		return 0, nil
	}
	if err := s.send(ctx, alerts); err != nil {
		// Where the stream stopped is unknown: a new connection.
		s.close()
		return 0, err
	}
	// Acked: delivered, whatever happens to the deletion. A deletion that
	// fails leaves the alerts on disk, sent again at the next start.
	s.cursor = alerts[len(alerts)-1].Seq
	s.delivered.Add(int64(len(alerts)))
	if err := s.outbox.Delivered(alerts); err != nil {
		return len(alerts), fmt.Errorf("deleting delivered alerts: %w", err)
	}
	for _, a := range alerts {
		s.sinceReclaim += int64(len(a.Doc))
	}
	if reclaim {
		s.maybeReclaim(ctx, false)
	}
	return len(alerts), nil
}

// maybeReclaim gives back the disk space of what was delivered, every
// reclaimEvery bytes, or sooner once the outbox is empty. A failure is
// reported and tried again after as many bytes more: the alerts are out.
func (s *Sender) maybeReclaim(ctx context.Context, empty bool) {
	if s.sinceReclaim < reclaimEvery && (!empty || s.sinceReclaim < reclaimAtEmpty) {
		return
	}
	s.sinceReclaim = 0
	if err := s.outbox.ReclaimOutbox(ctx, s.cursor); err != nil && ctx.Err() == nil {
		s.opts.Log.Errorf("forward: reclaiming the delivered outbox's disk space: %v", err)
	}
}

// send delivers one batch of alerts and waits for the acks. The batch
// goes out in order as a run of messages, a new one where the tag
// changes or one grows too large, written at once: waiting for each ack
// before the next message would bound delivery by round trips.
func (s *Sender) send(ctx context.Context, alerts []Alert) error {
	if s.conn == nil {
		if err := s.connect(ctx); err != nil {
			return err
		}
	}
	c := s.conn
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	pending := map[string]bool{} // chunk ids awaiting their ack
	s.msg = s.msg[:0]
	s.body = s.body[:0]
	now := time.Now()
	tag, n := "", 0
	for _, a := range alerts {
		v, err := s.parser.ParseBytes(a.Doc)
		if err != nil {
			// A document that is not JSON cannot be delivered, ever:
			// deliver it as text rather than block the outbox.
			v = fastjson.MustParse(`{}`)
			v.Set("message", fastjson.MustParse(strconv.Quote(string(a.Doc))))
		}
		t := s.tag(v)
		if n > 0 && (t != tag || len(s.body) >= maxMessage) {
			pending[s.appendMessage(tag, n)] = true
			n = 0
		}
		tag = t
		s.body = msgp.AppendArrayHeader(s.body, 2)
		s.body = flb.AppendEventTime(s.body, now)
		s.body = appendValue(s.body, v)
		n++
	}
	pending[s.appendMessage(tag, n)] = true
	if err := s.arm(ctx); err != nil {
		return err
	}
	// Acks are read while the batch is written: in_forward acks each
	// message as it reads it, and stops reading when its acks cannot be
	// written (Fluent Bit 5.1.1 did after 578 one-alert messages).
	// Whichever of the two fails first ends the other's wait.
	acked := make(chan error, 1)
	go func() {
		err := readAcks(s.r, pending)
		if err != nil {
			c.SetDeadline(time.Unix(1, 0))
		}
		acked <- err
	}()
	s.hook("write")
	if _, err := c.Write(s.msg); err != nil {
		c.SetDeadline(time.Unix(1, 0))
		if aerr := <-acked; aerr != nil && !errors.Is(aerr, os.ErrDeadlineExceeded) {
			return aerr // what the receiver said, or that it hung up
		}
		return fmt.Errorf("write: %w", err)
	}
	return <-acked
}

// readAcks reads replies until every pending message is acked. It runs
// in a goroutine of its own, whose panic would end the process: it
// returns it as an error.
func readAcks(r *msgp.Reader, pending map[string]bool) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &panicError{value: p, stack: debug.Stack()}
		}
	}()
	for len(pending) > 0 {
		resp, err := r.ReadIntf()
		if err != nil {
			return fmt.Errorf("waiting for ack: %w", err)
		}
		ack, _ := resp.(map[string]any)
		got, _ := ack["ack"].(string)
		if got == "" {
			return fmt.Errorf("unexpected reply %v", resp)
		}
		// An ack not ours is a late one for an earlier message: ignored.
		delete(pending, got)
	}
	return nil
}

// appendMessage moves the n entries gathered in body into a Forward-mode
// message and returns its chunk id, to be acked.
func (s *Sender) appendMessage(tag string, n int) string {
	var id [16]byte
	rand.Read(id[:])
	chunk := base64.StdEncoding.EncodeToString(id[:])
	s.msg = msgp.AppendArrayHeader(s.msg, 3)
	s.msg = msgp.AppendString(s.msg, tag)
	s.msg = msgp.AppendArrayHeader(s.msg, uint32(n))
	s.msg = append(s.msg, s.body...)
	s.msg = msgp.AppendMapHeader(s.msg, 2)
	s.msg = msgp.AppendString(s.msg, "chunk")
	s.msg = msgp.AppendString(s.msg, chunk)
	s.msg = msgp.AppendString(s.msg, "size")
	s.msg = msgp.AppendInt(s.msg, n)
	s.body = s.body[:0]
	return chunk
}

// arm sets the connection's deadline: the ack timeout, or ctx's deadline
// when sooner. ctx is checked after: a cancellation whose deadline in
// the past (set by send's AfterFunc) this one overwrote is then seen.
func (s *Sender) arm(ctx context.Context) error {
	d := time.Now().Add(s.opts.AckTimeout)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		d = cd
	}
	if err := s.conn.SetDeadline(d); err != nil {
		return err
	}
	return ctx.Err()
}

// tag fills the alert tag's placeholders from the alert.
func (s *Sender) tag(v *fastjson.Value) string {
	t := s.opts.Tag
	if !strings.Contains(t, "{") {
		return t
	}
	id := string(v.GetStringBytes("newterms", "rule", "id"))
	sev := string(v.GetStringBytes("newterms", "rule", "severity"))
	return strings.NewReplacer("{rule_id}", cmp.Or(id, "unknown"), "{severity}", cmp.Or(sev, "unknown")).Replace(t)
}

func (s *Sender) connect(ctx context.Context) error {
	d := net.Dialer{Timeout: 10 * time.Second}
	c, err := d.DialContext(ctx, s.network, s.addr)
	if err != nil {
		return err
	}
	s.conn, s.r = c, msgp.NewReader(c)
	if s.opts.SharedKey != "" {
		stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
		defer stop()
		s.hook("handshake")
		if err := s.handshake(ctx); err != nil {
			s.close()
			return fmt.Errorf("handshake: %w", err)
		}
	}
	return nil
}

// handshake answers in_forward's HELO with PING and checks its PONG
// (Forward protocol v1 authentication with a shared key).
func (s *Sender) handshake(ctx context.Context) error {
	if err := s.arm(ctx); err != nil {
		return err
	}
	h, err := s.expect("HELO", 2)
	if err != nil {
		return err
	}
	opts, _ := h[1].(map[string]any)
	nonce := asBytes(opts["nonce"])
	host, _ := os.Hostname()
	var salt [16]byte
	rand.Read(salt[:])
	saltHex := hex.EncodeToString(salt[:])
	digest := sha512.Sum512([]byte(saltHex + host + string(nonce) + s.opts.SharedKey))
	ping := msgp.AppendArrayHeader(nil, 6)
	ping = msgp.AppendString(ping, "PING")
	ping = msgp.AppendString(ping, host)
	ping = msgp.AppendString(ping, saltHex)
	ping = msgp.AppendString(ping, hex.EncodeToString(digest[:]))
	ping = msgp.AppendString(ping, "")
	ping = msgp.AppendString(ping, "")
	if _, err := s.conn.Write(ping); err != nil {
		return err
	}
	p, err := s.expect("PONG", 3)
	if err != nil {
		return err
	}
	if okAuth, _ := p[1].(bool); !okAuth {
		return fmt.Errorf("refused: %v", p[2])
	}
	return nil
}

// expect reads the next handshake message: an array of at least n
// elements whose first is kind.
func (s *Sender) expect(kind string, n int) ([]any, error) {
	msg, err := s.r.ReadIntf()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", kind, err)
	}
	m, ok := msg.([]any)
	if !ok || len(m) < n || m[0] != kind {
		return nil, fmt.Errorf("want %s, got %v", kind, msg)
	}
	return m, nil
}

func asBytes(v any) []byte {
	switch t := v.(type) {
	case string:
		return []byte(t)
	case []byte:
		return t
	}
	return nil
}

// hook lets tests act at points of an attempt.
func (s *Sender) hook(event string) {
	if s.testHook != nil {
		s.testHook(event)
	}
}

func (s *Sender) close() {
	if s.conn != nil {
		s.conn.Close()
		s.conn, s.r = nil, nil
	}
}

// Flush tries, for at most d, to deliver what the outbox holds: the bounded
// attempt at exit. It returns within d whatever the receiver does (down,
// silent, never acking, never reading). What is left goes out at the
// next start.
func (s *Sender) Flush(d time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	n, err := s.drain(ctx, false)
	s.close()
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("gave up after %s with %d alerts left in the outbox: %w", d, s.waiting(), err)
	}
	return n, err
}

// appendValue converts JSON into msgpack: Fluent Bit records are maps.
func appendValue(dst []byte, v *fastjson.Value) []byte {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		dst = msgp.AppendMapHeader(dst, uint32(o.Len()))
		o.Visit(func(k []byte, c *fastjson.Value) {
			dst = msgp.AppendStringFromBytes(dst, k)
			dst = appendValue(dst, c)
		})
	case fastjson.TypeArray:
		a, _ := v.Array()
		dst = msgp.AppendArrayHeader(dst, uint32(len(a)))
		for _, c := range a {
			dst = appendValue(dst, c)
		}
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		dst = msgp.AppendStringFromBytes(dst, b)
	case fastjson.TypeNumber:
		if i, err := v.Int64(); err == nil {
			dst = msgp.AppendInt64(dst, i)
		} else {
			f, _ := v.Float64()
			if math.IsInf(f, 0) || math.IsNaN(f) {
				return msgp.AppendNil(dst)
			}
			dst = msgp.AppendFloat64(dst, f)
		}
	case fastjson.TypeTrue:
		dst = msgp.AppendBool(dst, true)
	case fastjson.TypeFalse:
		dst = msgp.AppendBool(dst, false)
	default:
		dst = msgp.AppendNil(dst)
	}
	return dst
}
