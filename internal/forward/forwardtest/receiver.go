// Package forwardtest is a Forward-protocol receiver for tests: it speaks
// in_forward's side of the protocol, acks included, and can refuse, drop
// connections, ack late or never, stall, or demand a shared-key handshake.
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
	// NoAck reads and keeps messages but never acks them: an in_forward
	// being replaced by a hot reload.
	NoAck bool
	// Stall accepts connections and then neither reads nor writes: a hung
	// receiver. With SharedKey, the handshake hangs (no HELO).
	Stall bool
	// SharedKey demands the HELO/PING/PONG handshake.
	SharedKey string
	// Discard counts records without keeping them (Records stays empty),
	// for benchmarks of many records.
	Discard bool
	// Progress, when set, is called after each message with the number of
	// records received so far.
	Progress func(total int)
}

// Receiver listens on a unix socket or TCP address.
type Receiver struct {
	ln      net.Listener
	opts    Options
	mu      sync.Mutex
	records []Record
	count   int
	conns   int
	open    map[net.Conn]bool
	got     chan struct{} // a record or a connection arrived
	closed  chan struct{}
	wg      sync.WaitGroup
}

// Listen starts a receiver.
func Listen(network, addr string, opts Options) (*Receiver, error) {
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil, err
	}
	r := &Receiver{ln: ln, opts: opts, got: make(chan struct{}, 1), closed: make(chan struct{}), open: map[net.Conn]bool{}}
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
		r.signal()
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			defer func() {
				c.Close()
				r.mu.Lock()
				delete(r.open, c)
				r.mu.Unlock()
			}()
			if r.opts.Stall {
				<-r.closed
				return
			}
			r.serve(c, drop)
		}()
	}
}

func (r *Receiver) signal() {
	select {
	case r.got <- struct{}{}:
	default:
	}
}

func (r *Receiver) serve(c net.Conn, drop bool) {
	rd := msgp.NewReader(c)
	if r.opts.SharedKey != "" && !r.handshake(c, rd) {
		return
	}
	for {
		// Read piecewise rather than with ReadIntf: Discard then skips
		// the records undecoded, so that a benchmark measures the sender.
		size, err := rd.ReadArrayHeader()
		if err != nil || size < 2 {
			return
		}
		tag, err := rd.ReadString()
		if err != nil {
			return
		}
		n, err := rd.ReadArrayHeader()
		if err != nil {
			return
		}
		var recs []Record
		got := 0
		for range n {
			if r.opts.Discard {
				if err := rd.Skip(); err != nil {
					return
				}
				got++
				continue
			}
			e, err := rd.ReadIntf()
			if err != nil {
				return
			}
			if pair, _ := e.([]any); len(pair) == 2 {
				rec, _ := pair[1].(map[string]any)
				recs = append(recs, Record{Tag: tag, Record: rec})
				got++
			}
		}
		var opt map[string]any
		for i := uint32(2); i < size; i++ {
			v, err := rd.ReadIntf()
			if err != nil {
				return
			}
			if m, ok := v.(map[string]any); ok && i == 2 {
				opt = m
			}
		}
		r.mu.Lock()
		r.count += got
		r.records = append(r.records, recs...)
		total := r.count
		r.mu.Unlock()
		if r.opts.Progress != nil {
			r.opts.Progress(total)
		}
		r.signal()
		if drop {
			return
		}
		chunk, ok := opt["chunk"].(string)
		if !ok || r.opts.NoAck {
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

// Count is the number of records received so far, kept or not.
func (r *Receiver) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.count
}

// Conns is the number of connections accepted so far.
func (r *Receiver) Conns() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.conns
}

// WaitFor blocks until at least n records arrived or the timeout passed,
// and reports whether they did.
func (r *Receiver) WaitFor(n int, timeout time.Duration) bool {
	return r.wait(func() bool { return r.Count() >= n }, timeout)
}

// WaitConns blocks until at least n connections were accepted or the
// timeout passed, and reports whether they were.
func (r *Receiver) WaitConns(n int, timeout time.Duration) bool {
	return r.wait(func() bool { return r.Conns() >= n }, timeout)
}

func (r *Receiver) wait(done func() bool, timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if done() {
			return true
		}
		select {
		case <-r.got:
		case <-deadline.C:
			return done()
		}
	}
}

// Close stops the receiver.
func (r *Receiver) Close() {
	r.ln.Close()
	r.mu.Lock()
	select {
	case <-r.closed:
	default:
		close(r.closed)
	}
	for c := range r.open {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}
