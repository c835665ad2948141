// Package forwardtest is a Forward-protocol receiver for tests: it speaks
// in_forward's side of the protocol, acks included, and can refuse, drop
// connections, ack late, or demand a shared-key handshake.
package forwardtest

import (
	"crypto/sha512"
	"encoding/hex"
	"net"
	"sync"
	"time"

	"github.com/tinylib/msgp/msgp"
)

// Record is one received entry.
type Record struct {
	Tag    string
	Record map[string]any
}

// Options shape the receiver's behaviour.
type Options struct {
	// DropFirst closes the first n connections after reading a message,
	// without acking (the records count as received, as in_forward would
	// have buffered them).
	DropFirst int
	// AckDelay delays every ack.
	AckDelay time.Duration
	// SharedKey demands the HELO/PING/PONG handshake.
	SharedKey string
}

// Receiver listens on a unix socket or TCP address.
type Receiver struct {
	ln      net.Listener
	opts    Options
	mu      sync.Mutex
	records []Record
	conns   int
	open    map[net.Conn]bool
	got     chan struct{}
	wg      sync.WaitGroup
}

// Listen starts a receiver.
func Listen(network, addr string, opts Options) (*Receiver, error) {
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil, err
	}
	r := &Receiver{ln: ln, opts: opts, got: make(chan struct{}, 1), open: map[net.Conn]bool{}}
	r.wg.Add(1)
	go r.accept()
	return r, nil
}

func (r *Receiver) accept() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		r.conns++
		drop := r.conns <= r.opts.DropFirst
		r.open[c] = true
		r.mu.Unlock()
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			defer func() {
				c.Close()
				r.mu.Lock()
				delete(r.open, c)
				r.mu.Unlock()
			}()
			r.serve(c, drop)
		}()
	}
}

func (r *Receiver) serve(c net.Conn, drop bool) {
	rd := msgp.NewReader(c)
	if r.opts.SharedKey != "" && !r.handshake(c, rd) {
		return
	}
	for {
		msg, err := rd.ReadIntf()
		if err != nil {
			return
		}
		m, ok := msg.([]any)
		if !ok || len(m) < 2 {
			return
		}
		tag, _ := m[0].(string)
		entries, _ := m[1].([]any)
		r.mu.Lock()
		for _, e := range entries {
			pair, _ := e.([]any)
			if len(pair) == 2 {
				rec, _ := pair[1].(map[string]any)
				r.records = append(r.records, Record{Tag: tag, Record: rec})
			}
		}
		r.mu.Unlock()
		select {
		case r.got <- struct{}{}:
		default:
		}
		if drop {
			return
		}
		if len(m) < 3 {
			continue
		}
		opt, _ := m[2].(map[string]any)
		chunk, ok := opt["chunk"].(string)
		if !ok {
			continue
		}
		time.Sleep(r.opts.AckDelay)
		ack := msgp.AppendMapHeader(nil, 1)
		ack = msgp.AppendString(ack, "ack")
		ack = msgp.AppendString(ack, chunk)
		if _, err := c.Write(ack); err != nil {
			return
		}
	}
}

func (r *Receiver) handshake(c net.Conn, rd *msgp.Reader) bool {
	nonce := "0123456789abcdef"
	helo := msgp.AppendArrayHeader(nil, 2)
	helo = msgp.AppendString(helo, "HELO")
	helo = msgp.AppendMapHeader(helo, 3)
	helo = msgp.AppendString(helo, "nonce")
	helo = msgp.AppendString(helo, nonce)
	helo = msgp.AppendString(helo, "auth")
	helo = msgp.AppendString(helo, "")
	helo = msgp.AppendString(helo, "keepalive")
	helo = msgp.AppendBool(helo, true)
	if _, err := c.Write(helo); err != nil {
		return false
	}
	ping, err := rd.ReadIntf()
	p, ok := ping.([]any)
	if err != nil || !ok || len(p) < 4 {
		return false
	}
	host, _ := p[1].(string)
	salt, _ := p[2].(string)
	digest, _ := p[3].(string)
	want := sha512.Sum512([]byte(salt + host + nonce + r.opts.SharedKey))
	good := digest == hex.EncodeToString(want[:])
	pong := msgp.AppendArrayHeader(nil, 5)
	pong = msgp.AppendString(pong, "PONG")
	pong = msgp.AppendBool(pong, good)
	reason := ""
	if !good {
		reason = "shared_key mismatch"
	}
	pong = msgp.AppendString(pong, reason)
	pong = msgp.AppendString(pong, "receiver")
	pong = msgp.AppendString(pong, "")
	c.Write(pong)
	return good
}

// Records returns what was received so far.
func (r *Receiver) Records() []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Record(nil), r.records...)
}

// WaitFor blocks until at least n records arrived or the timeout passed,
// and reports whether they did.
func (r *Receiver) WaitFor(n int, timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if len(r.Records()) >= n {
			return true
		}
		select {
		case <-r.got:
		case <-deadline.C:
			return len(r.Records()) >= n
		}
	}
}

// Close stops the receiver.
func (r *Receiver) Close() {
	r.ln.Close()
	r.mu.Lock()
	for c := range r.open {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}
