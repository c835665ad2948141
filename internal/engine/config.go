package engine

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/newterms/newterms/internal/rules"
)

// Config is what the engine reads from the user's settings. The keys that
// set it, and their defaults as users write them, are declared in
// internal/config; errors here name those keys. A zero size or interval
// means the default of the package that uses it.
type Config struct {
	// RecordKeys are the record keys that may hold CloudTrail JSON text
	// (record_key); nil: cloudtrail.DefaultRecordKeys.
	RecordKeys []string
	// MaxRecordSize caps one record, and each payload decoded inside it
	// (max_record_size); 0: cloudtrail.DefaultMaxRecordSize.
	MaxRecordSize int
	// ASNDatabase is the mmdb file for source.as.* (asn_database); "":
	// no enrichment.
	ASNDatabase string
	// ASNReloadInterval is how often the database file is checked for
	// replacement (asn_reload_interval); 0: asn.DefaultReloadInterval,
	// negative: never.
	ASNReloadInterval time.Duration
	// Rules are rule files or directories (rules).
	Rules []string
	// Inline is the rule given by the rule_* keys, or nil.
	Inline *rules.Rule
	// StateDir holds the seen state and the alert outbox (state_dir), for
	// the embedded store.
	StateDir string
	// StateBackend is where the seen state lives (state_backend):
	// BackendPebble ("" too) or BackendRedis.
	StateBackend string
	// Redis is the shared store's server (redis_*), for BackendRedis.
	Redis RedisConfig
	// CacheSize bounds the hot cache of seen tuples, in bytes
	// (cache_size); 0: seen.DefaultCacheSize.
	CacheSize int64
	// Learning: a rule alerts only once its state covers a whole window.
	Learning bool
	// IncludeOriginal adds the CloudTrail record to alerts (event.original).
	IncludeOriginal bool
	// MaxTuples caps the term tuples one rule takes from one event
	// (max_tuples); 0: DefaultMaxTuples.
	MaxTuples int
	// Prefilter skips, unparsed, records that contain no literal any rule
	// needs.
	Prefilter bool
	// MaxLateness is the reorder window: events up to this much older than
	// the newest of their rule are decided in event-time order; 0 decides
	// in arrival order.
	MaxLateness time.Duration
}

// The state backends.
const (
	BackendPebble = "pebble"
	BackendRedis  = "redis"
)

// RedisConfig is the shared state's server.
type RedisConfig struct {
	Address   string        // redis_address
	Password  string        // redis_password, resolved (never logged)
	KeyPrefix string        // redis_key_prefix
	Timeout   time.Duration // redis_timeout; 0: seen.DefaultRedisTimeout
}

// The bounds Validate holds the settings to. internal/config states them
// to users in its keys' own terms.
const (
	// MinRecordSize: a smaller cap would refuse ordinary CloudTrail events.
	MinRecordSize = 1 << 10
	// MinCacheSize: below it the hot cache holds too few tuples to help.
	MinCacheSize = 1 << 20
	// MaxMaxTuples bounds max_tuples: each tuple costs a check under the
	// batch lock.
	MaxMaxTuples = 100000
	// DefaultMaxTuples is the cap of a zero MaxTuples.
	DefaultMaxTuples = 64
	// MinReloadInterval keeps the ASN file check from spinning.
	MinReloadInterval = time.Second
	// MinLateness and MaxMaxLateness bound max_lateness: held events,
	// with their alert documents, stay in memory until released.
	MinLateness    = time.Second
	MaxMaxLateness = 24 * time.Hour
)

// Validate reports every setting that breaks the engine's invariants, all
// at once.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("config: "+format, a...)) }
	switch c.StateBackend {
	case "", BackendPebble:
		if c.StateDir == "" {
			bad("state_dir is missing: the seen state needs a directory")
		}
	case BackendRedis:
		if c.Redis.Address == "" {
			bad("redis_address is missing: state_backend redis needs the server's address")
		}
		if c.MaxLateness != 0 {
			bad("max_lateness = %s: needs state_backend pebble (a shared state cannot hold events for ordering)", c.MaxLateness)
		}
	default:
		bad("state_backend = %q: want pebble or redis", c.StateBackend)
	}
	if slices.Contains(c.RecordKeys, "") {
		bad("record_key = %q: want one or more key names", c.RecordKeys)
	}
	if c.MaxRecordSize != 0 && c.MaxRecordSize < MinRecordSize {
		bad("max_record_size = %d: want at least %d bytes", c.MaxRecordSize, MinRecordSize)
	}
	if c.CacheSize != 0 && c.CacheSize < MinCacheSize {
		bad("cache_size = %d: want at least %d bytes", c.CacheSize, MinCacheSize)
	}
	if c.MaxTuples < 0 || c.MaxTuples > MaxMaxTuples {
		bad("max_tuples = %d: want 1 to %d", c.MaxTuples, MaxMaxTuples)
	}
	if c.ASNReloadInterval > 0 && c.ASNReloadInterval < MinReloadInterval {
		bad("asn_reload_interval = %s: want at least %s, or negative for never", c.ASNReloadInterval, MinReloadInterval)
	}
	if c.MaxLateness != 0 && (c.MaxLateness < MinLateness || c.MaxLateness > MaxMaxLateness) {
		bad("max_lateness = %s: want %s to %s, or 0 for arrival order", c.MaxLateness, MinLateness, MaxMaxLateness)
	}
	return errors.Join(errs...)
}
