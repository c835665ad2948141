// Package asn resolves IP addresses to autonomous systems (ECS
// source.as.number and source.as.organization.name) from a MaxMind-format
// database, with a bounded cache of recent lookups and hot reload.
//
// The database is read into memory, never memory-mapped: a mapped file that
// someone overwrites in place kills the process with SIGBUS, and inside
// Fluent Bit that takes the whole pipeline down.
package asn

//go:generate go run ../../testdata/mmdbgen -o ../../testdata/asn

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/newterms/newterms/internal/logx"
)

// Info is what the database says of one address.
type Info struct {
	Number uint32
	Org    string // "" when the database names no organization
}

// Schema is the record layout of a database.
type Schema string

const (
	// MaxMind is GeoLite2-ASN, GeoIP2-ISP and DB-IP ASN Lite:
	// autonomous_system_number (uint) and autonomous_system_organization.
	MaxMind Schema = "maxmind"
	// IPinfo is IPinfo Lite and ASN: asn ("AS13335") and as_name.
	IPinfo Schema = "ipinfo"
)

// Meta describes the database in service.
type Meta struct {
	Path         string
	DatabaseType string
	Schema       Schema
	BuildTime    time.Time
	IPVersion    uint
	Networks     int // networks that carry a record
	// Reloads is how many replacements of the file were put in service
	// since Open (metrics: a database that never reloads is going stale).
	Reloads int
}

// DefaultReloadInterval is how often the file is checked for replacement.
const DefaultReloadInterval = 60 * time.Second

// DefaultCacheEntries bounds the cache of recent lookups.
const DefaultCacheEntries = 1 << 14

// Options configure Open. The zero value takes the defaults.
type Options struct {
	// ReloadInterval: how often to check the file for replacement; 0 means
	// DefaultReloadInterval, negative disables the background check.
	ReloadInterval time.Duration
	// CacheEntries bounds the lookup cache; 0 means DefaultCacheEntries.
	CacheEntries int
	// Log reports reloads and failed reloads; nil discards.
	Log logx.Func
}

// DB answers lookups from the database in service. A nil *DB is valid and
// finds nothing: enrichment is off.
type DB struct {
	path   string
	opts   Options
	cur    atomic.Pointer[handle]
	cache  *cache
	reload sync.Mutex // one reload at a time
	// The file that last failed to open, and why: it is not read again
	// until it changes.
	failed    fileStamp
	failedErr error
	bad       logx.Condition
	checks    atomic.Int64 // background checks made, for tests and metrics
	closed    atomic.Bool
	stop      chan struct{}
	done      chan struct{}
}

// handle is one opened database file. It is reference counted so that a
// replaced reader is closed only after the lookups using it have ended.
type handle struct {
	r     *maxminddb.Reader
	meta  Meta
	stamp fileStamp
	gen   uint32 // distinguishes cache entries of different files
	refs  atomic.Int64
}

// Open reads the database at path into memory, checks it and detects its
// schema. A missing, corrupt or unrecognised file is an error naming the
// path and the cause.
func Open(path string, opts Options) (*DB, error) {
	if opts.ReloadInterval == 0 {
		opts.ReloadInterval = DefaultReloadInterval
	}
	if opts.CacheEntries <= 0 {
		opts.CacheEntries = DefaultCacheEntries
	}
	h, err := openHandle(path, 1)
	if err != nil {
		return nil, err
	}
	db := &DB{path: path, opts: opts, cache: newCache(opts.CacheEntries)}
	db.cur.Store(h)
	if opts.ReloadInterval > 0 {
		db.stop, db.done = make(chan struct{}), make(chan struct{})
		go db.watch()
	}
	return db, nil
}

type fileStamp struct {
	size  int64
	mtime time.Time
	ino   uint64
}

func stampOf(fi os.FileInfo) fileStamp {
	s := fileStamp{size: fi.Size(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.ino = st.Ino
	}
	return s
}

func openHandle(path string, gen uint32) (*handle, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("asn database %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("asn database %s: %w", path, err)
	}
	// All the bytes Stat counted: a file cut short meanwhile is an error
	// (io.ErrUnexpectedEOF), not a smaller database.
	buf := make([]byte, fi.Size())
	if n, err := io.ReadFull(f, buf); err != nil {
		return nil, fmt.Errorf("asn database %s: read %d of %d bytes: %w", path, n, len(buf), err)
	}
	r, err := maxminddb.OpenBytes(buf)
	if err != nil {
		return nil, fmt.Errorf("asn database %s: not a MaxMind DB: %w", path, err)
	}
	schema, err := detect(r)
	if err != nil {
		return nil, fmt.Errorf("asn database %s: %w", path, err)
	}
	h := &handle{r: r, stamp: stampOf(fi), gen: gen, meta: Meta{
		Path: path, DatabaseType: r.Metadata.DatabaseType, Schema: schema,
		BuildTime: r.Metadata.BuildTime().UTC(), IPVersion: r.Metadata.IPVersion, Reloads: int(gen) - 1,
	}}
	// Decode every record once, as lookups will: a damaged file is refused
	// here rather than failing lookups later. (Reader.Verify would also
	// refuse sound databases over metadata, such as an empty description.)
	for res := range r.Networks() {
		if _, _, err := h.decode(res); err != nil {
			return nil, fmt.Errorf("asn database %s: corrupt: network %s: %w", path, res.Prefix(), err)
		}
		h.meta.Networks++
	}
	h.refs.Store(1) // the DB's own reference, dropped when replaced
	return h, nil
}

// detect finds the schema from the first record that carries data.
func detect(r *maxminddb.Reader) (Schema, error) {
	for res := range r.Networks() {
		var rec map[string]any
		if err := res.Decode(&rec); err != nil {
			return "", fmt.Errorf("decode a record: %w", err)
		}
		if len(rec) == 0 {
			continue
		}
		switch {
		case rec["autonomous_system_number"] != nil:
			return MaxMind, nil
		case rec["asn"] != nil:
			if _, ok := rec["asn"].(string); ok {
				return IPinfo, nil
			}
		}
		keys := slices.Sorted(maps.Keys(rec))
		return "", fmt.Errorf("unknown schema: database type %q has fields %v; want autonomous_system_number (MaxMind, DB-IP) or asn and as_name (IPinfo)",
			r.Metadata.DatabaseType, keys)
	}
	return "", fmt.Errorf("database type %q holds no networks", r.Metadata.DatabaseType)
}

func (h *handle) tryRef() bool {
	for {
		n := h.refs.Load()
		if n <= 0 {
			return false
		}
		if h.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (h *handle) release() {
	if h.refs.Add(-1) == 0 {
		h.r.Close()
	}
}

// acquire takes a reference on the handle in service, or returns nil once
// the DB is closed.
func (db *DB) acquire() *handle {
	for {
		if h := db.cur.Load(); h.tryRef() {
			return h
		}
		if db.closed.Load() {
			return nil
		}
	}
}

// Lookup returns the autonomous system of ip; found is false for addresses
// in no network of the database (private, reserved, unrouted), and always
// for a nil DB. IPv4-mapped IPv6 addresses are looked up as IPv4.
func (db *DB) Lookup(ip netip.Addr) (info Info, found bool) {
	if db == nil || !ip.IsValid() {
		return Info{}, false
	}
	ip = ip.Unmap().WithZone("")
	if info, found, ok := db.cache.get(ip, db.cur.Load().gen); ok {
		return info, found
	}
	h := db.acquire()
	if h == nil {
		return Info{}, false
	}
	defer h.release()
	info, found, err := h.lookup(ip)
	if err != nil {
		// A record that does not decode (Open decoded every record once,
		// so this is not expected): not found, and not cached, in case a
		// reload mends it.
		return Info{}, false
	}
	db.cache.put(ip, h.gen, info, found)
	return info, found
}

func (h *handle) lookup(ip netip.Addr) (Info, bool, error) {
	res := h.r.Lookup(ip)
	if !res.Found() {
		return Info{}, false, res.Err()
	}
	return h.decode(res)
}

func (h *handle) decode(res maxminddb.Result) (Info, bool, error) {
	if err := res.Err(); err != nil {
		return Info{}, false, err
	}
	switch h.meta.Schema {
	case IPinfo:
		rec := ipinfoPool.Get().(*ipinfoRecord)
		defer ipinfoPool.Put(rec)
		*rec = ipinfoRecord{}
		if err := res.Decode(rec); err != nil {
			return Info{}, false, err
		}
		n, ok := parseASN(rec.ASN)
		return Info{Number: n, Org: rec.Name}, ok, nil
	default:
		rec := maxmindPool.Get().(*maxmindRecord)
		defer maxmindPool.Put(rec)
		*rec = maxmindRecord{}
		if err := res.Decode(rec); err != nil {
			return Info{}, false, err
		}
		return Info{Number: rec.Number, Org: rec.Org}, rec.Number != 0, nil
	}
}

type maxmindRecord struct {
	Number uint32 `maxminddb:"autonomous_system_number"`
	Org    string `maxminddb:"autonomous_system_organization"`
}

type ipinfoRecord struct {
	ASN  string `maxminddb:"asn"`
	Name string `maxminddb:"as_name"`
}

// Decode targets are pooled: passed as interfaces they would escape, and
// allocate on every lookup that misses the cache.
var (
	maxmindPool = sync.Pool{New: func() any { return new(maxmindRecord) }}
	ipinfoPool  = sync.Pool{New: func() any { return new(ipinfoRecord) }}
)

// parseASN reads IPinfo's "AS13335".
func parseASN(s string) (uint32, bool) {
	if len(s) < 3 || (s[0] != 'A' && s[0] != 'a') || (s[1] != 'S' && s[1] != 's') {
		return 0, false
	}
	var n uint64
	for _, c := range s[2:] {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
		if n > 1<<32-1 {
			return 0, false
		}
	}
	return uint32(n), n != 0
}

// Meta describes the database in service; the zero Meta for a nil DB.
func (db *DB) Meta() Meta {
	if db == nil {
		return Meta{}
	}
	return db.cur.Load().meta
}

// ErrUnchanged is returned by Reload when the file is the one in service.
var ErrUnchanged = errors.New("asn database unchanged")

// Reload switches to the file at the database's path if it was replaced
// since it was opened. A replacement that fails to open or has the wrong
// schema is an error, and the database in service stays.
func (db *DB) Reload() error {
	db.reload.Lock()
	defer db.reload.Unlock()
	old := db.cur.Load()
	fi, err := os.Stat(db.path)
	if err != nil {
		return fmt.Errorf("asn database %s: %w", db.path, err)
	}
	st := stampOf(fi)
	switch st {
	case old.stamp:
		return ErrUnchanged
	case db.failed:
		return db.failedErr
	}
	h, err := openHandle(db.path, old.gen+1)
	if err != nil {
		db.failed, db.failedErr = st, err
		return err
	}
	db.cur.Store(h)
	old.release()
	return nil
}

func (db *DB) watch() {
	defer close(db.done)
	t := time.NewTicker(db.opts.ReloadInterval)
	defer t.Stop()
	for {
		select {
		case <-db.stop:
			return
		case <-t.C:
			err := db.Reload()
			db.checks.Add(1)
			switch {
			case err == nil:
				m := db.Meta()
				db.bad.Clear(db.opts.Log, "asn database %s: the replacement is good again", m.Path)
				db.opts.Log.Infof("asn database %s reloaded: %s built %s", m.Path, m.DatabaseType, m.BuildTime.Format(time.RFC3339))
			case !errors.Is(err, ErrUnchanged):
				db.bad.Fail(db.opts.Log, "asn database reload failed, keeping the one in service until the file is replaced by a good one: %v", err)
			}
		}
	}
}

// Close stops the reload check and releases the database once lookups in
// flight have ended.
func (db *DB) Close() error {
	if db == nil || !db.closed.CompareAndSwap(false, true) {
		return nil
	}
	if db.stop != nil {
		close(db.stop)
		<-db.done
	}
	db.reload.Lock()
	defer db.reload.Unlock()
	db.cur.Load().release()
	return nil
}
