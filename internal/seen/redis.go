package seen

// The shared backend: a Redis-protocol server (Redis 7, Valkey 7/8) that
// several Fluent Bit nodes use as one seen state.
//
// Client: github.com/redis/rueidis. On this machine's batch path (an MGET
// of 250 keys, then one EVALSHA writing 50, over a unix socket to a local
// Redis 7.0.15 holding 100,000 keys; 3,000 batches, one core, three runs)
// it took 232-262 µs of client CPU per batch against go-redis v9.23.0's
// 256-353 µs, and 0.68-1.58 ms of wall time against 0.73-2.2 ms (a noisy
// shared machine: the CPU figures are the steadier). Its RESP3 pipelining
// needs no Pipeline objects, and its Lua helper runs EVALSHA and loads the
// script again on NOSCRIPT (after a server restart) by itself.
//
// Layout, every key under one hash tag, "{prefix}:", so that a cluster
// keeps a state in one slot (one script touches tuples, rules and outbox):
//
//	{p}:t + rule hash(8) + tuple hash(16) -> tuple record, with a TTL
//	{p}:kv                                -> hash: every other store key
//	                                         (format marker, rule records,
//	                                         outbox entries) -> value
//	{p}:ix                                -> sorted set of kv's keys, all
//	                                         at score 0: in byte order, for
//	                                         ordered scans (ZRANGEBYLEX)
//	{p}:oseq, {p}:ocount, {p}:obytes      -> outbox sequence and size
//	{p}:commits                           -> commits so far
//	{p}:lease                             -> the node delivering the outbox
//	{p}:layout                            -> "newterms-redis 1"
//
// Tuple and rule records keep the store's encoding (encode.go) but for
// their first two fields (first/last seen, earliest/high-water): 8 bytes
// big-endian with the sign bit flipped, so that the scripts compare them
// byte by byte (Lua numbers are doubles; Redis compares strings with
// strcoll), and merge records by picking bytes, never by arithmetic.
//
// Tuples expire by TTL: window + TTLMargin from their last write, refreshed
// whenever last_seen is written. No compaction pass is needed on the
// server; `newterms state compact` still deletes by event time.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	_ "embed"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/newterms/newterms/internal/logx"
)

// RedisOptions configure OpenRedis.
type RedisOptions struct {
	// Address is redis://[user@]host[:port][/db], rediss://... (TLS) or
	// unix:///path[?db=N].
	Address string
	// Password authenticates (AUTH); never part of a message.
	Password string
	// KeyPrefix names the state on the server; "" is DefaultKeyPrefix.
	KeyPrefix string
	// Timeout bounds each call to the server; 0 is DefaultRedisTimeout.
	Timeout time.Duration
	// TTLMargin is how long beyond its window a tuple is kept after its
	// last write; 0 is DefaultTTLMargin.
	TTLMargin time.Duration
	// Log reports outages, once each.
	Log logx.Func
}

const (
	DefaultKeyPrefix    = "newterms"
	DefaultRedisTimeout = 2 * time.Second
	// DefaultTTLMargin covers a pipeline whose lag (wall clock minus event
	// time) grows: a tuple lives window + margin of wall-clock time after
	// its last write, so a lag that grows by less than this expires none
	// early.
	DefaultTTLMargin = 24 * time.Hour
	redisLayout      = "newterms-redis 1"
	leaseTTL         = 10 * time.Second
	scanPage         = 1000
)

//go:embed redis_commit.lua
var commitLua string

var (
	commitScript = rueidis.NewLuaScript(commitLua)
	scanScript   = rueidis.NewLuaScriptReadOnly(`
local m = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', 0, ARGV[3])
if #m == 0 then return {} end
local v = redis.call('HMGET', KEYS[2], unpack(m))
local out = {}
for i = 1, #m do out[2*i-1] = m[i]; out[2*i] = v[i] end
return out`)
	deleteOutboxScript = rueidis.NewLuaScript(`
local n, b = 0, 0
for i = 1, #ARGV do
  local l = redis.call('HSTRLEN', KEYS[1], ARGV[i])
  if redis.call('HDEL', KEYS[1], ARGV[i]) == 1 then
    redis.call('ZREM', KEYS[2], ARGV[i]); n = n + 1; b = b + l
  end
end
if n > 0 then redis.call('DECRBY', KEYS[3], n); redis.call('DECRBY', KEYS[4], b) end
return n`)
	leaseScript = rueidis.NewLuaScript(`
local v = redis.call('GET', KEYS[1])
if not v or v == ARGV[1] then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]); return 1 end
return 0`)
	unleaseScript = rueidis.NewLuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0`)
)

// redisStore is the shared Store.
type redisStore struct {
	c       rueidis.Client
	addr    string // for messages: never the password
	p       string // "{prefix}:"
	kv, ix  string
	node    string // this process, for the delivery lease
	timeout time.Duration
	margin  time.Duration
	log     logx.Func

	windows sync.Map // rule hash -> window, for the TTL of plain writes

	calls atomic.Int64 // calls to the server (RoundTrips)

	mu      sync.Mutex
	retryAt time.Time     // no call before it: backoff after a failure
	backoff time.Duration // the next failure's wait
	lastErr error
	down    logx.Condition
}

// ParseRedisAddress checks an address and says what rueidis dials: the
// host:port or socket path, the database, whether TLS, and the user.
func ParseRedisAddress(addr string) (dial string, db int, tlsOn bool, user string, err error) {
	u, err := url.Parse(addr)
	if err != nil {
		return "", 0, false, "", fmt.Errorf("not a URL: want redis://host:port/db, rediss://host:port/db or unix:///path")
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			return "", 0, false, "", errors.New("a password in the address: set redis_password instead, so that it never appears where addresses are shown")
		}
		user = u.User.Username()
	}
	switch u.Scheme {
	case "redis", "rediss":
		if u.Host == "" {
			return "", 0, false, "", errors.New("no host: want redis://host:port/db")
		}
		dial = u.Host
		if u.Port() == "" {
			dial = net.JoinHostPort(u.Hostname(), "6379")
		}
		if p := strings.Trim(u.Path, "/"); p != "" {
			if db, err = strconv.Atoi(p); err != nil || db < 0 {
				return "", 0, false, "", fmt.Errorf("database %q: want a number", p)
			}
		}
		return dial, db, u.Scheme == "rediss", user, nil
	case "unix":
		if u.Path == "" || u.Host != "" {
			return "", 0, false, "", errors.New("want unix:///absolute/path")
		}
		if v := u.Query().Get("db"); v != "" {
			if db, err = strconv.Atoi(v); err != nil || db < 0 {
				return "", 0, false, "", fmt.Errorf("database %q: want a number", v)
			}
		}
		return u.Path, db, false, user, nil
	}
	return "", 0, false, "", fmt.Errorf("unknown scheme %q: want redis://, rediss:// or unix://", u.Scheme)
}

// RedactAddress is an address as messages show it: a password in it
// (which ParseRedisAddress refuses) replaced by "xxxxx".
func RedactAddress(addr string) string {
	u, err := url.Parse(addr)
	if err != nil || u.User == nil {
		if err != nil && strings.Contains(addr, "@") {
			return "(an address that is no URL)"
		}
		return addr
	}
	return u.Redacted()
}

// OpenRedis connects to a shared state. A wrong password, a server that
// does not speak the protocol or run scripts, or a key prefix holding
// another layout is an error naming the address and the cause.
func OpenRedis(o RedisOptions) (Store, error) {
	dial, db, tlsOn, user, err := ParseRedisAddress(o.Address)
	if err != nil {
		return nil, fmt.Errorf("state redis %q: %w", RedactAddress(o.Address), err)
	}
	fail := func(format string, a ...any) error {
		return fmt.Errorf("state redis %s: "+format, append([]any{o.Address}, a...)...)
	}
	if o.KeyPrefix == "" {
		o.KeyPrefix = DefaultKeyPrefix
	}
	if strings.ContainsAny(o.KeyPrefix, "{}") {
		return nil, fail("key prefix %q: no braces (they make the hash tag)", o.KeyPrefix)
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultRedisTimeout
	}
	if o.TTLMargin <= 0 {
		o.TTLMargin = DefaultTTLMargin
	}
	opt := rueidis.ClientOption{
		InitAddress:       []string{dial},
		Username:          user,
		Password:          o.Password,
		SelectDB:          db,
		DisableCache:      true, // the state's own cache is in front
		ForceSingleClient: true,
		ConnWriteTimeout:  o.Timeout,
		Dialer:            net.Dialer{Timeout: o.Timeout},
		ClientName:        "newterms",
	}
	if tlsOn {
		host, _, _ := net.SplitHostPort(dial)
		opt.TLSConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	if strings.HasPrefix(o.Address, "unix:") {
		opt.DialCtxFn = func(ctx context.Context, path string, d *net.Dialer, _ *tls.Config) (net.Conn, error) {
			return d.DialContext(ctx, "unix", path)
		}
	}
	c, err := rueidis.NewClient(opt)
	if err != nil {
		return nil, fail("%s", describeConnErr(err))
	}
	host, _ := os.Hostname()
	var id [6]byte
	rand.Read(id[:])
	s := &redisStore{c: c, addr: o.Address, p: "{" + o.KeyPrefix + "}:", node: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(id[:])),
		timeout: o.Timeout, margin: o.TTLMargin, log: o.Log}
	s.kv, s.ix = s.p+"kv", s.p+"ix"
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
	defer cancel()
	// Scripting: every commit is one.
	for _, src := range []string{commitLua} {
		if err := c.Do(ctx, c.B().ScriptLoad().Script(src).Build()).Error(); err != nil {
			c.Close()
			return nil, fail("the server does not run Lua scripts (SCRIPT LOAD: %v); newterms needs EVALSHA", err)
		}
	}
	// The layout marker: set on a new prefix, checked on an old one.
	layout := s.p + "layout"
	if err := c.Do(ctx, c.B().Set().Key(layout).Value(redisLayout).Nx().Build()).Error(); err != nil && !rueidis.IsRedisNil(err) {
		c.Close()
		return nil, fail("%v", err)
	}
	got, err := c.Do(ctx, c.B().Get().Key(layout).Build()).ToString()
	if err != nil {
		c.Close()
		return nil, fail("%v", err)
	}
	if got != redisLayout {
		c.Close()
		return nil, fail("key prefix %q holds another newterms layout (%q; this build writes %q): use another redis_key_prefix, or upgrade newterms", o.KeyPrefix, got, redisLayout)
	}
	return s, nil
}

// describeConnErr says what a failed connection means to a user. A
// server's refusal is told by its error code, the first word of a RESP
// error; a silent peer by the deadline.
func describeConnErr(err error) string {
	var code string
	if rerr, ok := rueidis.IsRedisErr(err); ok {
		code, _, _ = strings.Cut(rerr.Error(), " ")
	}
	var nerr net.Error
	switch {
	case code == "WRONGPASS" || code == "NOAUTH":
		return fmt.Sprintf("authentication failed (check redis_password): %v", err)
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded), errors.As(err, &nerr) && nerr.Timeout():
		return fmt.Sprintf("no answer within the timeout: not a Redis-protocol server, or unreachable: %v", err)
	}
	return fmt.Sprintf("cannot connect (not a Redis-protocol server, or unreachable): %v", err)
}

// do runs one call with the timeout. After a failure to reach the server,
// calls fail at once until a backoff (200 ms doubling to 5 s) has passed,
// so that retried chunks do not each wait a timeout; the outage is logged
// once when it begins and once when it ends.
func (s *redisStore) do(fn func(ctx context.Context) error) error {
	s.mu.Lock()
	if wait := time.Until(s.retryAt); wait > 0 {
		err := s.lastErr
		s.mu.Unlock()
		return fmt.Errorf("state redis %s: %w: unreachable, tried again in %s: %v", s.addr, ErrFailed, wait.Round(time.Millisecond), err)
	}
	s.mu.Unlock()
	s.calls.Add(1)
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	err := fn(ctx)
	cancel()
	var rerr *rueidis.RedisError
	if err == nil || errors.As(err, &rerr) || errors.Is(err, ErrConflict) {
		// The server answered.
		s.mu.Lock()
		s.backoff = 0
		s.mu.Unlock()
		s.down.Clear(s.log, "state redis %s: reachable again; commits go on", s.addr)
		if err != nil && rerr != nil {
			return fmt.Errorf("state redis %s: %w", s.addr, err)
		}
		return err
	}
	s.mu.Lock()
	s.backoff = min(max(2*s.backoff, 200*time.Millisecond), 5*time.Second)
	s.retryAt, s.lastErr = time.Now().Add(s.backoff), err
	s.mu.Unlock()
	s.down.Fail(s.log, "state redis %s: unreachable (%v); chunks are retried until it answers", s.addr, err)
	return fmt.Errorf("state redis %s: %w: %v", s.addr, ErrFailed, err)
}

func isTupleKey(k []byte) bool { return len(k) == 25 && k[0] == prefixTuple }
func isRuleKey(k []byte) bool  { return len(k) == 9 && k[0] == prefixRule }

// fixTimes writes a record's first two signed varints as the server's
// 8-byte form; unfixTimes reverses it.
func fixTimes(v []byte) ([]byte, error) {
	a, n := binary.Varint(v)
	if n <= 0 {
		return nil, errCorrupt
	}
	b, m := binary.Varint(v[n:])
	if m <= 0 {
		return nil, errCorrupt
	}
	out := make([]byte, 0, 16+len(v)-n-m)
	out = appendFixed(appendFixed(out, a), b)
	return append(out, v[n+m:]...), nil
}

func unfixTimes(v []byte) ([]byte, error) {
	if len(v) < 16 {
		return nil, errCorrupt
	}
	out := make([]byte, 0, len(v))
	out = binary.AppendVarint(out, fixedTime(v[:8]))
	out = binary.AppendVarint(out, fixedTime(v[8:16]))
	return append(out, v[16:]...), nil
}

func appendFixed(dst []byte, t int64) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(t)^1<<63)
}

func fixedTime(b []byte) int64 { return int64(binary.BigEndian.Uint64(b) ^ 1<<63) }

func fixedString(t int64) string { return string(appendFixed(nil, t)) }

// toServer and fromServer convert a value of key between the store's
// encoding and the server's.
func toServer(key, val []byte) ([]byte, error) {
	if isTupleKey(key) || isRuleKey(key) {
		v, err := fixTimes(val)
		if err != nil {
			return nil, fmt.Errorf("key %x: %w", key, err)
		}
		return v, nil
	}
	return val, nil
}

func fromServer(key []byte, val string) ([]byte, error) {
	if isTupleKey(key) || isRuleKey(key) {
		v, err := unfixTimes([]byte(val))
		if err != nil {
			return nil, fmt.Errorf("key %x on the server: %w", key, err)
		}
		return v, nil
	}
	return []byte(val), nil
}

func (s *redisStore) tupleKey(k []byte) string { return s.p + string(k) }

func (s *redisStore) Get(key []byte) (val []byte, found bool, err error) {
	err = s.do(func(ctx context.Context) error {
		var cmd rueidis.Completed
		if isTupleKey(key) {
			cmd = s.c.B().Get().Key(s.tupleKey(key)).Build()
		} else {
			cmd = s.c.B().Hget().Key(s.kv).Field(string(key)).Build()
		}
		v, err := s.c.Do(ctx, cmd).ToString()
		if rueidis.IsRedisNil(err) {
			return nil
		}
		if err != nil {
			return err
		}
		val, err = fromServer(key, v)
		found = err == nil
		return err
	})
	return val, found, err
}

// GetMany reads tuple keys with one MGET (other keys one by one: the
// state prefetches only tuples).
func (s *redisStore) GetMany(keys [][]byte) ([][]byte, error) {
	out := make([][]byte, len(keys))
	var idx []int
	var names []string
	for i, k := range keys {
		if !isTupleKey(k) {
			v, found, err := s.Get(k)
			if err != nil {
				return nil, err
			}
			if found {
				out[i] = v
			}
			continue
		}
		idx, names = append(idx, i), append(names, s.tupleKey(k))
	}
	if len(names) == 0 {
		return out, nil
	}
	err := s.do(func(ctx context.Context) error {
		vals, err := s.c.Do(ctx, s.c.B().Mget().Key(names...).Build()).ToArray()
		if err != nil {
			return err
		}
		if len(vals) != len(names) {
			return fmt.Errorf("MGET of %d keys answered %d", len(names), len(vals))
		}
		for j, m := range vals {
			if m.IsNil() {
				continue
			}
			v, err := m.ToString()
			if err != nil {
				return err
			}
			if out[idx[j]], err = fromServer(keys[idx[j]], v); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// ttl is a tuple's time to live for its rule's window ("" when the window
// is unknown: no expiry).
func (s *redisStore) ttl(window time.Duration) string {
	if window <= 0 {
		return ""
	}
	return strconv.FormatInt((window + s.margin).Milliseconds(), 10)
}

// windowOf is the window of a tuple key's rule, from its record.
func (s *redisStore) windowOf(tupleKey []byte) (time.Duration, error) {
	rh := bytesToU64(tupleKey[1:9])
	if w, ok := s.windows.Load(rh); ok {
		return w.(time.Duration), nil
	}
	v, found, err := s.Get(ruleKeyBytes(rh))
	if err != nil || !found {
		return 0, err
	}
	rec, err := decodeRule(v)
	if err != nil {
		return 0, nil
	}
	w := time.Duration(rec.window) * time.Millisecond
	s.windows.Store(rh, w)
	return w, nil
}

// Apply writes plainly: sets and deletes, no merge, no condition (the
// conformance suite's calls, state copy, the format marker).
func (s *redisStore) Apply(w *Writes) error {
	_, err := s.Commit(&Commit{Writes: *w})
	return err
}

// Commit runs the commit script: conditions first, then every write, in
// one atomic call.
func (s *redisStore) Commit(c *Commit) (Committed, error) {
	args := []string{s.p}
	counts := make([]string, 9)
	body := make([]string, 0, 5*len(c.Created)+5*len(c.Refreshed)+2*len(c.Rules)+len(c.Alerts)+2*c.Writes.Len())
	for _, t := range c.Created {
		v, err := toServer(t.Key, t.Val)
		if err != nil {
			return Committed{}, err
		}
		learn := ""
		if t.Learning {
			learn = string(ruleKeyBytes(bytesToU64(t.Key[1:9])))
		}
		body = append(body, s.tupleKey(t.Key), string(v), fixedString(t.Before), learn, s.ttl(t.Window))
		s.windows.Store(bytesToU64(t.Key[1:9]), t.Window)
	}
	counts[0] = strconv.Itoa(len(c.Created))
	for _, t := range c.Refreshed {
		v, err := toServer(t.Key, t.Val)
		if err != nil {
			return Committed{}, err
		}
		f, l := "", ""
		if t.First != noTime {
			f = fixedString(t.First)
		}
		if t.Last != noTime {
			l = fixedString(t.Last)
		}
		body = append(body, s.tupleKey(t.Key), f, l, string(v), s.ttl(t.Window))
	}
	counts[1] = strconv.Itoa(len(c.Refreshed))
	for _, r := range c.Rules {
		v, err := toServer(r.Key, r.Val)
		if err != nil {
			return Committed{}, err
		}
		body = append(body, string(r.Key), string(v))
	}
	counts[2] = strconv.Itoa(len(c.Rules))
	// Plain writes: kv sets, tuple sets, kv deletes, tuple deletes.
	var kvSets, tSets, kvDels, tDels []string
	var err error
	c.Writes.Each(func(k, v []byte, del bool) {
		if err != nil {
			return
		}
		switch {
		case del && isTupleKey(k):
			tDels = append(tDels, s.tupleKey(k))
		case del:
			kvDels = append(kvDels, string(k))
		default:
			var sv []byte
			if sv, err = toServer(k, v); err != nil {
				return
			}
			if isTupleKey(k) {
				var w time.Duration
				if w, err = s.windowOf(k); err == nil {
					tSets = append(tSets, s.tupleKey(k), string(sv), s.ttl(w))
				}
			} else {
				kvSets = append(kvSets, string(k), string(sv))
			}
		}
	})
	if err != nil {
		return Committed{}, err
	}
	body = append(body, kvSets...)
	counts[3] = strconv.Itoa(len(kvSets) / 2)
	body = append(body, tSets...)
	counts[4] = strconv.Itoa(len(tSets) / 3)
	body = append(body, kvDels...)
	counts[5] = strconv.Itoa(len(kvDels))
	body = append(body, tDels...)
	counts[6] = strconv.Itoa(len(tDels))
	for _, e := range c.Expire {
		body = append(body, s.tupleKey(e.Key), fixedString(e.Before))
	}
	counts[7] = strconv.Itoa(len(c.Expire))
	for _, a := range c.Alerts {
		body = append(body, string(a))
	}
	counts[8] = strconv.Itoa(len(c.Alerts))
	args = append(append(args, counts...), body...)

	var out Committed
	err = s.do(func(ctx context.Context) error {
		res, err := commitScript.Exec(ctx, s.c, []string{s.kv}, args).ToArray()
		if err != nil {
			return err
		}
		strs := make([]string, len(res))
		for i := range res {
			if strs[i], err = res[i].ToString(); err != nil {
				return fmt.Errorf("commit script answered %v", res)
			}
		}
		if len(strs) >= 2 && strs[0] == "conflict" {
			ce := &ConflictError{Rules: strs[1] == "1"}
			for _, k := range strs[2:] {
				ce.Keys = append(ce.Keys, []byte(strings.TrimPrefix(k, s.p)))
			}
			return ce
		}
		if len(strs) < 4 || strs[0] != "ok" || len(strs)%2 != 0 {
			return fmt.Errorf("commit script answered %q", strs)
		}
		seq, err1 := strconv.ParseUint(strs[1], 10, 64)
		exp, err2 := strconv.Atoi(strs[2])
		num, err3 := strconv.ParseUint(strs[3], 10, 64)
		if err = errors.Join(err1, err2, err3); err != nil {
			return fmt.Errorf("commit script answered %q: %w", strs[:4], err)
		}
		out = Committed{FirstSeq: seq, Expired: exp, Number: num, Rules: map[string][]byte{}}
		for i := 4; i+1 < len(strs); i += 2 {
			v, err := fromServer([]byte(strs[i]), strs[i+1])
			if err != nil {
				return err
			}
			out.Rules[strs[i]] = v
		}
		return nil
	})
	return out, err
}

func (s *redisStore) Scan(prefix []byte, fn func(key, val []byte) bool) error {
	return s.ScanFrom(prefix, prefix, fn)
}

// mayHoldTuples: some tuple key has the prefix.
func mayHoldTuples(prefix []byte) bool {
	return len(prefix) == 0 || prefix[0] == prefixTuple && len(prefix) <= 25
}

// ScanFrom merges, in key order, the kv keys (read a page at a time by a
// script, so that a page is one atomic read) and, when the prefix may
// hold tuples, the tuple keys (found by SCAN and sorted: ordered scans of
// tuples are for tests and small states; stats and listings use
// ScanUnordered).
func (s *redisStore) ScanFrom(prefix, start []byte, fn func(key, val []byte) bool) error {
	lower := prefix
	if bytes.Compare(start, prefix) > 0 {
		lower = start
	}
	end := prefixEnd(prefix)
	if end != nil && bytes.Compare(lower, end) >= 0 {
		return nil
	}
	// Tuples are gathered only when the scan reaches them: a scan that
	// stops before (the state's format marker, a rule record) reads none.
	var tuples [][2][]byte
	gathered := !mayHoldTuples(prefix)
	emitTuples := func(below []byte) (bool, error) { // tuples before below (nil: all)
		if !gathered && (below == nil || below[0] >= prefixTuple) {
			gathered = true
			err := s.scanTuples(prefix, func(k, v []byte) bool {
				if bytes.Compare(k, lower) >= 0 {
					tuples = append(tuples, [2][]byte{bytes.Clone(k), bytes.Clone(v)})
				}
				return true
			})
			if err != nil {
				return false, err
			}
			slices.SortFunc(tuples, func(a, b [2][]byte) int { return bytes.Compare(a[0], b[0]) })
		}
		for len(tuples) > 0 && (below == nil || bytes.Compare(tuples[0][0], below) < 0) {
			if !fn(tuples[0][0], tuples[0][1]) {
				return false, nil
			}
			tuples = tuples[1:]
		}
		return true, nil
	}
	from := "[" + string(lower)
	to := "+"
	if end != nil {
		to = "(" + string(end)
	}
	for {
		var page [][2][]byte
		err := s.do(func(ctx context.Context) error {
			res, err := scanScript.Exec(ctx, s.c, []string{s.ix, s.kv}, []string{from, to, strconv.Itoa(scanPage)}).ToArray()
			if err != nil {
				return err
			}
			page = page[:0]
			for i := 0; i+1 < len(res); i += 2 {
				k, err1 := res[i].ToString()
				v, err2 := res[i+1].ToString()
				if err = errors.Join(err1, err2); err != nil {
					return err
				}
				val, err := fromServer([]byte(k), v)
				if err != nil {
					return err
				}
				page = append(page, [2][]byte{[]byte(k), val})
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, kv := range page {
			more, err := emitTuples(kv[0])
			if err != nil || !more || !fn(kv[0], kv[1]) {
				return err
			}
		}
		if len(page) < scanPage {
			_, err := emitTuples(nil)
			return err
		}
		from = "(" + string(page[len(page)-1][0])
	}
}

// ScanUnordered visits keys with the prefix in the server's order.
func (s *redisStore) ScanUnordered(prefix []byte, fn func(key, val []byte) bool) error {
	if len(prefix) > 0 && prefix[0] == prefixTuple && len(prefix) <= 25 {
		return s.scanTuples(prefix, fn)
	}
	return s.Scan(prefix, fn)
}

// globEscape quotes SCAN MATCH's special characters.
func globEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// scanTuples visits the tuple keys with the prefix (SCAN, then MGET a
// page at a time); keys that expire meanwhile are skipped.
func (s *redisStore) scanTuples(prefix []byte, fn func(key, val []byte) bool) error {
	pat := s.p + string(prefixTuple)
	if len(prefix) > 0 {
		pat = s.p + string(prefix)
	}
	pat = globEscape(pat) + "*"
	cursor := uint64(0)
	for {
		var keys []string
		err := s.do(func(ctx context.Context) error {
			e, err := s.c.Do(ctx, s.c.B().Scan().Cursor(cursor).Match(pat).Count(scanPage).Build()).AsScanEntry()
			if err != nil {
				return err
			}
			cursor = e.Cursor
			for _, k := range e.Elements {
				if len(k) == len(s.p)+25 {
					keys = append(keys, k)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			var vals []rueidis.RedisMessage
			err := s.do(func(ctx context.Context) (err error) {
				vals, err = s.c.Do(ctx, s.c.B().Mget().Key(keys...).Build()).ToArray()
				return err
			})
			if err != nil {
				return err
			}
			for i, m := range vals {
				if m.IsNil() {
					continue
				}
				v, err := m.ToString()
				if err != nil {
					return err
				}
				k := []byte(keys[i][len(s.p):])
				val, err := fromServer(k, v)
				if err != nil {
					return err
				}
				if !fn(k, val) {
					return nil
				}
			}
		}
		if cursor == 0 {
			return nil
		}
	}
}

func (s *redisStore) OutboxCounts() (count, bytes int64, err error) {
	err = s.do(func(ctx context.Context) error {
		vals, err := s.c.Do(ctx, s.c.B().Mget().Key(s.p+"ocount", s.p+"obytes").Build()).ToArray()
		if err != nil {
			return err
		}
		for i, dst := range []*int64{&count, &bytes} {
			if len(vals) > i && !vals[i].IsNil() {
				str, _ := vals[i].ToString()
				*dst, _ = strconv.ParseInt(str, 10, 64)
			}
		}
		return nil
	})
	return count, bytes, err
}

func (s *redisStore) DeleteOutbox(seqs []uint64) error {
	args := make([]string, len(seqs))
	for i, q := range seqs {
		args[i] = string(outboxKey(q))
	}
	return s.do(func(ctx context.Context) error {
		return deleteOutboxScript.Exec(ctx, s.c, []string{s.kv, s.ix, s.p + "ocount", s.p + "obytes"}, args).Error()
	})
}

// Lease: one node delivers the shared outbox at a time, through its own
// Fluent Bit; it renews the lease at each read of the outbox (at least
// once a second), and another node takes over within leaseTTL of its
// death, sending again what it had not deleted (same alert ids).
func (s *redisStore) Lease() (bool, error) {
	var held bool
	err := s.do(func(ctx context.Context) error {
		n, err := leaseScript.Exec(ctx, s.c, []string{s.p + "lease"}, []string{s.node, strconv.FormatInt(leaseTTL.Milliseconds(), 10)}).AsInt64()
		held = n == 1
		return err
	})
	return held, err
}

// Close hands the delivery lease over at once, if this process held it.
func (s *redisStore) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	unleaseScript.Exec(ctx, s.c, []string{s.p + "lease"}, []string{s.node})
	cancel()
	s.c.Close()
	return nil
}

// RoundTrips counts the calls made to the server (benchmarks).
func (s *redisStore) RoundTrips() int64 { return s.calls.Load() }

// MemoryUsage is the server's count of bytes for one tuple key (MEMORY
// USAGE), for the figures in the README.
func (s *redisStore) MemoryUsage(key []byte) (int64, error) {
	var n int64
	err := s.do(func(ctx context.Context) (err error) {
		n, err = s.c.Do(ctx, s.c.B().MemoryUsage().Key(s.tupleKey(key)).Samples(0).Build()).AsInt64()
		return err
	})
	return n, err
}
