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
	"strconv"
	"strings"
	"time"

	"github.com/tinylib/msgp/msgp"
	"github.com/valyala/fastjson"

	"github.com/newterms/newterms/internal/flb"
	"github.com/newterms/newterms/internal/seen"
)

// Options configure a Sender.
type Options struct {
	// Address is unix:///path or tcp://host:port.
	Address string
	// SharedKey, when set, answers in_forward's HELO with the handshake.
	SharedKey string
	// Tag is the alert tag; {rule_id} and {severity} are filled per alert.
	Tag string
	// MaxBatch bounds the alerts of one message (default 100).
	MaxBatch int
	// AckTimeout bounds the wait for an ack (default 30s).
	AckTimeout time.Duration
	// Backoff between failed attempts: from MinBackoff doubling to
	// MaxBackoff, with jitter (defaults 200ms and 30s).
	MinBackoff, MaxBackoff time.Duration
	// Logf reports delivery problems; nil discards.
	Logf func(format string, args ...any)
}

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

// Sender drains one state's outbox.
type Sender struct {
	opts    Options
	state   *seen.State
	network string
	addr    string
	conn    net.Conn
	r       *msgp.Reader // reads the connection's replies
	wake    chan struct{}
}

// New returns a sender; Run does the work.
func New(state *seen.State, opts Options) (*Sender, error) {
	network, addr, err := ParseAddress(opts.Address)
	if err != nil {
		return nil, err
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 100
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
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	return &Sender{opts: opts, state: state, network: network, addr: addr, wake: make(chan struct{}, 1)}, nil
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
// when the outbox is empty and backs off when delivery fails.
func (s *Sender) Run(ctx context.Context) {
	defer s.close()
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		sent, err := s.Drain(ctx)
		switch {
		case err != nil:
			backoff = s.nextBackoff(backoff)
			s.opts.Logf("forward to %s failed, retrying in %s (%d alerts waiting): %v", s.opts.Address, backoff.Round(time.Millisecond), s.waiting(), err)
			s.close()
			if !sleep(ctx, backoff) {
				return
			}
		case sent == 0:
			backoff = 0
			select {
			case <-ctx.Done():
				return
			case <-s.wake:
			case <-time.After(time.Second):
			}
		default:
			backoff = 0
		}
	}
}

func (s *Sender) waiting() int64 { n, _ := s.state.OutboxSize(); return n }

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
	total := 0
	for ctx.Err() == nil {
		alerts, err := s.state.Outbox(0, s.opts.MaxBatch)
		if err != nil || len(alerts) == 0 {
			return total, err
		}
		if err := s.send(alerts); err != nil {
			return total, err
		}
		if err := s.state.Delete(alerts); err != nil {
			return total, fmt.Errorf("outbox: %w", err)
		}
		total += len(alerts)
	}
	return total, ctx.Err()
}

// send delivers one batch of alerts, one message per tag, and waits for
// each ack.
func (s *Sender) send(alerts []seen.Alert) error {
	if s.conn == nil {
		if err := s.connect(); err != nil {
			return err
		}
	}
	byTag := map[string][][]byte{}
	var tags []string
	var p fastjson.Parser
	now := time.Now()
	for _, a := range alerts {
		v, err := p.ParseBytes(a.Doc)
		if err != nil {
			// A document that is not JSON cannot be delivered, ever:
			// deliver it as text rather than block the outbox.
			v = fastjson.MustParse(`{}`)
			v.Set("message", fastjson.MustParse(strconv.Quote(string(a.Doc))))
		}
		tag := s.tag(v)
		rec := flb.AppendEventTime(nil, now)
		rec = appendValue(rec, v)
		if _, ok := byTag[tag]; !ok {
			tags = append(tags, tag)
		}
		byTag[tag] = append(byTag[tag], rec)
	}
	for _, tag := range tags {
		if err := s.message(tag, byTag[tag]); err != nil {
			return err
		}
	}
	return nil
}

// tag fills the alert tag's placeholders from the alert.
func (s *Sender) tag(v *fastjson.Value) string {
	t := s.opts.Tag
	if !strings.Contains(t, "{") {
		return t
	}
	id := string(v.GetStringBytes("newterms", "rule", "id"))
	sev := string(v.GetStringBytes("newterms", "rule", "severity"))
	return strings.NewReplacer("{rule_id}", cmpOr(id, "unknown"), "{severity}", cmpOr(sev, "unknown")).Replace(t)
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// message writes one Forward-mode message and waits for its ack.
func (s *Sender) message(tag string, entries [][]byte) error {
	var id [16]byte
	rand.Read(id[:])
	chunk := base64.StdEncoding.EncodeToString(id[:])
	msg := msgp.AppendArrayHeader(nil, 3)
	msg = msgp.AppendString(msg, tag)
	msg = msgp.AppendArrayHeader(msg, uint32(len(entries)))
	for _, e := range entries {
		msg = msgp.AppendArrayHeader(msg, 2)
		msg = append(msg, e...)
	}
	msg = msgp.AppendMapHeader(msg, 2)
	msg = msgp.AppendString(msg, "chunk")
	msg = msgp.AppendString(msg, chunk)
	msg = msgp.AppendString(msg, "size")
	msg = msgp.AppendInt(msg, len(entries))
	s.conn.SetDeadline(time.Now().Add(s.opts.AckTimeout))
	if _, err := s.conn.Write(msg); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	for {
		var ack map[string]any
		resp, err := s.r.ReadIntf()
		if err != nil {
			return fmt.Errorf("waiting for ack: %w", err)
		}
		if m, ok := resp.(map[string]any); ok {
			ack = m
		}
		got, _ := ack["ack"].(string)
		if got == chunk {
			return nil
		}
		if got == "" {
			return fmt.Errorf("unexpected reply %v", resp)
		}
		// An ack for an earlier message, late: keep waiting for ours.
	}
}

func (s *Sender) connect() error {
	d := net.Dialer{Timeout: 10 * time.Second}
	c, err := d.Dial(s.network, s.addr)
	if err != nil {
		return err
	}
	s.conn, s.r = c, msgp.NewReader(c)
	if s.opts.SharedKey != "" {
		if err := s.handshake(); err != nil {
			s.close()
			return fmt.Errorf("handshake: %w", err)
		}
	}
	return nil
}

// handshake answers in_forward's HELO with PING and checks its PONG
// (Forward protocol v1 authentication with a shared key).
func (s *Sender) handshake() error {
	s.conn.SetDeadline(time.Now().Add(s.opts.AckTimeout))
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

func (s *Sender) close() {
	if s.conn != nil {
		s.conn.Close()
		s.conn, s.r = nil, nil
	}
}

// Flush tries, for at most d, to deliver what the outbox holds: the bounded
// attempt at exit. What is left goes out at the next start.
func (s *Sender) Flush(d time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	n, err := s.Drain(ctx)
	s.close()
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("gave up after %s with %d alerts left in the outbox", d, s.waiting())
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
