// Package config reads the settings of the Fluent Bit plugin and of the
// CLI, under the same snake_case keys, into the settings of the layers
// below it: engine.Config and forward.Options.
//
// Each key is declared once, in keys: its name, its default as a user
// writes it, its help (the README's text, generated from it), and the
// function that parses, checks and sets it. A bad value is an error that
// names the key, the value and what is allowed, and every bad key of a
// configuration is reported at once.
package config

//go:generate go run gen_readme.go -readme ../../README.md

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/newterms/newterms/internal/engine"
	"github.com/newterms/newterms/internal/forward"
	"github.com/newterms/newterms/internal/metrics"
	"github.com/newterms/newterms/internal/rules"
	"github.com/newterms/newterms/internal/seen"
)

// Config is the validated configuration of one plugin instance or CLI run.
type Config struct {
	Engine engine.Config
	// Forward holds where alerts go and under which tag (forward_address,
	// forward_shared_key, alert_tag); the plugin adds the rest.
	Forward forward.Options
	// Metrics holds what is exposed besides Fluent Bit's own metrics
	// (metrics_listen, summary_interval).
	Metrics metrics.Options
}

// KeyError is one bad or missing key: the errors of FromMap and FromLookup
// are these and an UnknownKeysError, joined, so that a caller can tell
// which key each is about (config check points at the key's line).
type KeyError struct {
	Key string // lower case
	// Err says what is wrong with the key, naming it: `cache_size =
	// "10k": at least 1m`.
	Err error
}

// UnknownKeysError names the keys FromMap was given that are no keys of
// this package's.
type UnknownKeysError struct {
	Keys  []string // as written, sorted
	Known []string
}

func (e *UnknownKeysError) Error() string {
	q := make([]string, len(e.Keys))
	for i, k := range e.Keys {
		q[i] = strconv.Quote(k)
	}
	s := ""
	if len(q) > 1 {
		s = "s"
	}
	return fmt.Sprintf("config: unknown key%s %s (known: %s)", s, strings.Join(q, ", "), strings.Join(e.Known, ", "))
}

func (e *KeyError) Error() string { return "config: " + e.Err.Error() }
func (e *KeyError) Unwrap() error { return e.Err }

// KeyErrors are the key errors inside err (a joined error of FromMap or
// FromLookup), in order; errors.As finds an UnknownKeysError.
func KeyErrors(err error) []*KeyError {
	var out []*KeyError
	var walk func(error)
	walk = func(err error) {
		if ke, ok := err.(*KeyError); ok {
			out = append(out, ke)
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
		}
	}
	walk(err)
	return out
}

// keyErr is a KeyError; format is the part after "config: ".
func keyErr(key string, format string, a ...any) *KeyError {
	return &KeyError{Key: key, Err: fmt.Errorf(format, a...)}
}

// Program is who reads the keys: a few defaults and requirements differ.
type Program int

const (
	// Plugin is the Fluent Bit output: it reads records one at a time and
	// sends alerts back into Fluent Bit.
	Plugin Program = iota
	// CLI is cmd/newterms: it reads whole files and writes alerts out.
	CLI
)

// Key is one configuration key.
type Key struct {
	Name string
	// Default is the value of an unset key, as a user would write it; ""
	// leaves it unset.
	Default string
	// CLIDefault, when not "", is the CLI's default instead of Default.
	CLIDefault string
	// Required: the plugin cannot start without it (the CLI supplies its
	// own or has no use for it).
	Required bool
	// Secret: the value never appears in a message.
	Secret bool
	// Redact, when set, is how a message shows the value.
	Redact func(string) string
	// Help says what the key does and what it accepts, in Markdown: it is
	// the README's text.
	Help string
	set  func(b *build, v string) error
}

// DefaultFor is the key's default for the program, as a user writes it.
func (k Key) DefaultFor(p Program) string {
	if p == CLI && k.CLIDefault != "" {
		return k.CLIDefault
	}
	return k.Default
}

// Text is the help without Markdown, for messages and flag usage.
func (k Key) Text() string { return strings.ReplaceAll(k.Help, "`", "") }

// build is a configuration under construction: the inline rule comes from
// five keys, made into a rule once all are read.
type build struct {
	Config
	rule map[string]string
}

// keys are every key, in the README's order.
var keys = []Key{
	{Name: "forward_address", Required: true,
		Help: "`in_forward` that alerts go back into: `unix:///path` or `tcp://127.0.0.1:24224`",
		set: func(b *build, v string) error {
			if _, _, err := forward.ParseAddress(v); err != nil {
				return err
			}
			b.Forward.Address = v
			return nil
		}},
	{Name: "forward_shared_key",
		Help: "in_forward's `shared_key`, when it has a security section (the HELO/PING/PONG handshake)",
		set:  func(b *build, v string) error { b.Forward.SharedKey = v; return nil }},
	{Name: "record_key", Default: "log,message",
		Help: "record keys that may hold CloudTrail JSON text, comma separated, tried in order; a record without any is read as the CloudTrail object or envelope itself",
		set: func(b *build, v string) error {
			if b.Engine.RecordKeys = splitList(v); len(b.Engine.RecordKeys) == 0 {
				return errors.New("want one or more key names")
			}
			return nil
		}},
	{Name: "max_record_size", Default: "1m", CLIDefault: "256m",
		Help: fmt.Sprintf("largest record, and largest payload decoded from base64 or gzip inside one, in bytes (`k`, `m`, `g` suffixes), at least `%s`. "+
			"The CLI reads a line, or a whole JSON document, as one record: hence its larger default", sizeText(engine.MinRecordSize)),
		set: func(b *build, v string) error {
			n, err := parseSizeAtLeast(v, engine.MinRecordSize)
			b.Engine.MaxRecordSize = int(n)
			return err
		}},
	{Name: "rules",
		Help: "rule files or directories (recursive, `*.toml`), comma separated; a whole detection-rules checkout works. A rule file that fails to load fails init",
		set: func(b *build, v string) error {
			if b.Engine.Rules = splitList(v); len(b.Engine.Rules) == 0 {
				return errors.New("want one or more paths")
			}
			return nil
		}},
	{Name: "rule_name", set: ruleKey("rule_name"),
		Help: "one rule given inline, for users without rule files: its name. An inline rule needs `rule_name`, `rule_query`, `rule_fields` and `rule_window`; with neither `rules` nor these, init fails"},
	{Name: "rule_query", set: ruleKey("rule_query"), Help: "the inline rule's KQL query"},
	{Name: "rule_fields", set: ruleKey("rule_fields"), Help: "the inline rule's 1 to 3 `new_terms` fields, comma separated"},
	{Name: "rule_window", set: ruleKey("rule_window"), Help: "the inline rule's history window, e.g. `now-10d` (units `s`, `m`, `h`, `d`, `w`)"},
	{Name: "rule_id", set: ruleKey("rule_id"), Help: "the inline rule's id; unset, one is derived from `rule_name`"},
	{Name: "state_dir",
		Help: "directory of the seen state and the alert outbox; created 0700; one instance per directory. Required with `state_backend pebble`",
		set:  func(b *build, v string) error { b.Engine.StateDir = v; return nil }},
	{Name: "state_backend", Default: engine.BackendPebble,
		Help: "`pebble`: the seen state and outbox are embedded, under `state_dir`; `redis`: shared with other nodes on a Redis 7 or Valkey 7/8 server at `redis_address` (see Scaling out)",
		set: func(b *build, v string) error {
			switch v = strings.ToLower(v); v {
			case engine.BackendPebble, engine.BackendRedis:
				b.Engine.StateBackend = v
				return nil
			}
			return errors.New("want pebble or redis")
		}},
	{Name: "redis_address", Redact: seen.RedactAddress,
		Help: "the shared state's server, with `state_backend redis`: `redis://host:6379/0`, `rediss://host:6380/0` (TLS), or `unix:///path/redis.sock` (`?db=N`); a user name may come before `@`, never a password",
		set: func(b *build, v string) error {
			if _, _, _, _, err := seen.ParseRedisAddress(v); err != nil {
				return err
			}
			b.Engine.Redis.Address = v
			return nil
		}},
	{Name: "redis_password", Secret: true,
		Help: "the server's password (AUTH): the password itself, `env:NAME` to read it from an environment variable, or `file:/path` from a file (its first line); never logged",
		set: func(b *build, v string) error {
			p, err := secret(v)
			b.Engine.Redis.Password = p
			return err
		}},
	{Name: "redis_key_prefix", Default: seen.DefaultKeyPrefix,
		Help: "names the shared state on the server: every key is `{prefix}:...` (one hash slot on a cluster); nodes that share a state use the same prefix",
		set: func(b *build, v string) error {
			if strings.ContainsAny(v, "{} \t") {
				return errors.New("no braces or spaces")
			}
			b.Engine.Redis.KeyPrefix = v
			return nil
		}},
	{Name: "redis_timeout", Default: durText(seen.DefaultRedisTimeout),
		Help: fmt.Sprintf("bounds each call to the server, %s to %s; a batch whose call fails or times out is retried (`FLB_RETRY`), nothing of it applied", durText(minRedisTimeout), durText(maxRedisTimeout)),
		set: func(b *build, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < minRedisTimeout || d > maxRedisTimeout {
				return fmt.Errorf("want a duration from %s to %s", minRedisTimeout, maxRedisTimeout)
			}
			b.Engine.Redis.Timeout = d
			return nil
		}},
	{Name: "cache_size", Default: "64m",
		Help: fmt.Sprintf("hot cache of seen tuples in bytes (`k`, `m`, `g`), at least `%s`; the plugin limits its Go heap to the sum of its instances' `cache_size` + 24 MiB each, unless `GOMEMLIMIT` is set", sizeText(engine.MinCacheSize)),
		set: func(b *build, v string) (err error) {
			b.Engine.CacheSize, err = parseSizeAtLeast(v, engine.MinCacheSize)
			return err
		}},
	{Name: "learning", Default: "on",
		Help: "`on`: a rule alerts only once its state covers a whole history window (new deployments and edited rules learn first); `off`: alerts from the first event",
		set:  boolKey(func(b *build) *bool { return &b.Engine.Learning })},
	{Name: "alert_tag", Default: "newterms.alert",
		Help: "tag of re-emitted alerts; may hold `{rule_id}` and `{severity}`",
		set: func(b *build, v string) error {
			rest := strings.NewReplacer("{rule_id}", "", "{severity}", "").Replace(v)
			if strings.ContainsAny(rest, "{} \t") {
				return errors.New("only the placeholders {rule_id} and {severity} are known, and no spaces")
			}
			b.Forward.Tag = v
			return nil
		}},
	{Name: "include_original", Default: "off",
		Help: "`on`: alerts carry the CloudTrail record as `event.original`",
		set:  boolKey(func(b *build) *bool { return &b.Engine.IncludeOriginal })},
	{Name: "prefilter", Default: "on",
		Help: "`on`: a record that holds none of the literals the rules need (most records: usually the `event.action` values they require) is counted and skipped before any parsing; " +
			"a record whose envelope may carry a base64 (or base64+gzip) payload (`data`, `message`, `Message`, `CloudTrailEvent` holding base64 text) or JSON escapes always passes; `off`: every record is parsed",
		set: boolKey(func(b *build) *bool { return &b.Engine.Prefilter })},
	{Name: "max_tuples", Default: "64",
		Help: fmt.Sprintf("most term tuples one rule takes from one event, 1 to %d; the rest are counted as overflow", engine.MaxMaxTuples),
		set: func(b *build, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > engine.MaxMaxTuples {
				return fmt.Errorf("want a whole number from 1 to %d", engine.MaxMaxTuples)
			}
			b.Engine.MaxTuples = n
			return nil
		}},
	{Name: "max_lateness", Default: "off",
		Help: fmt.Sprintf("reorder window: an event at most this much older (event time) than the newest its rule has checked is decided in event-time order, alerts of new tuples held until then (see Seen state and alerts); `0`/`off`: arrival order; %s to %s",
			durText(engine.MinLateness), durText(engine.MaxMaxLateness)),
		set: func(b *build, v string) error {
			if strings.EqualFold(v, "off") || v == "0" {
				b.Engine.MaxLateness = 0
				return nil
			}
			d, err := time.ParseDuration(v)
			if err != nil || d < engine.MinLateness || d > engine.MaxMaxLateness {
				return fmt.Errorf("want a duration from %s to %s, or 0 or off", engine.MinLateness, engine.MaxMaxLateness)
			}
			b.Engine.MaxLateness = d
			return nil
		}},
	{Name: "asn_database",
		Help: "MaxMind-format ASN database for `source.as.number` / `source.as.organization.name`: GeoLite2-ASN, GeoIP2-ISP, DB-IP ASN Lite, or IPinfo Lite/ASN (schema detected). " +
			"Unset: no ASN fields. A missing, corrupt or unrecognised file fails init, naming the path and the cause",
		set: func(b *build, v string) error { b.Engine.ASNDatabase = v; return nil }},
	{Name: "asn_reload_interval", Default: "60s", CLIDefault: "off",
		Help: fmt.Sprintf("how often the database file is checked for replacement (geoipupdate writes a new file and renames it), at least `%s`; `off` disables. "+
			"A replacement that fails to open stays out of service and the old one goes on", durText(engine.MinReloadInterval)),
		set: func(b *build, v string) error {
			if strings.EqualFold(v, "off") {
				b.Engine.ASNReloadInterval = -1
				return nil
			}
			d, err := time.ParseDuration(v)
			if err != nil || d < engine.MinReloadInterval {
				return fmt.Errorf("want a duration of at least %s, or off", engine.MinReloadInterval)
			}
			b.Engine.ASNReloadInterval = d
			return nil
		}},
	{Name: "metrics_listen", Default: "off",
		Help: fmt.Sprintf("the plugin's own Prometheus endpoint (`/metrics`, and `/healthz`), for a Fluent Bit whose own metrics the plugin cannot join (see Operations): `off`; `on` (`%s`); a port (on 127.0.0.1); or `host:port`, where any other host than loopback must be written out. Instances share one address", metrics.DefaultListen),
		set: func(b *build, v string) (err error) {
			b.Metrics.Listen, err = metrics.ParseListen(v)
			return err
		}},
	{Name: "summary_interval", Default: "off",
		Help: fmt.Sprintf("how often the plugin logs a one-line summary of its counters at `info` (e.g. `5m`), at least `%s`; `off`: never", durText(MinSummaryInterval)),
		set: func(b *build, v string) error {
			if strings.EqualFold(v, "off") || v == "0" {
				b.Metrics.SummaryInterval = 0
				return nil
			}
			d, err := time.ParseDuration(v)
			if err != nil || d < MinSummaryInterval {
				return fmt.Errorf("want a duration of at least %s, or off", MinSummaryInterval)
			}
			b.Metrics.SummaryInterval = d
			return nil
		}},
}

// The bounds of redis_timeout.
const (
	minRedisTimeout = 100 * time.Millisecond
	maxRedisTimeout = time.Minute
)

// secret reads a password: env:NAME, file:/path (its first line), or the
// value itself. Errors name the variable or file, never a value.
func secret(v string) (string, error) {
	switch {
	case strings.HasPrefix(v, "env:"):
		name := strings.TrimPrefix(v, "env:")
		p, ok := os.LookupEnv(name)
		if !ok || p == "" {
			return "", fmt.Errorf("environment variable %s is unset or empty", name)
		}
		return p, nil
	case strings.HasPrefix(v, "file:"):
		path := strings.TrimPrefix(v, "file:")
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("password file: %w", err)
		}
		p, _, _ := strings.Cut(string(b), "\n")
		if p = strings.TrimRight(p, "\r"); p == "" {
			return "", fmt.Errorf("password file %s: its first line is empty", path)
		}
		return p, nil
	}
	return v, nil
}

func keyText(name string) string { k, _ := Lookup(name); return k.Text() }

// MinSummaryInterval keeps summary_interval from flooding the log.
const MinSummaryInterval = 10 * time.Second

// inlineKeys are the keys of the inline rule; all but rule_id are needed.
var inlineKeys = []string{"rule_name", "rule_query", "rule_fields", "rule_window"}

// Keys are every key, in the README's order.
func Keys() []Key { return slices.Clone(keys) }

// Lookup finds a key by name.
func Lookup(name string) (Key, bool) {
	i := slices.IndexFunc(keys, func(k Key) bool { return k.Name == name })
	if i < 0 {
		return Key{}, false
	}
	return keys[i], true
}

// Default is the program's configuration with every key unset. The
// declared defaults are valid (the package's tests parse them all).
func Default(p Program) Config {
	b := build{rule: map[string]string{}}
	for _, k := range keys {
		if v := k.DefaultFor(p); v != "" {
			if err := k.set(&b, v); err != nil {
				panic(fmt.Sprintf("config: the default of %s, %q: %v", k.Name, v, err))
			}
		}
	}
	return b.Config
}

// FromMap reads a complete set of settings, whose key names are not case
// sensitive: unknown keys are errors.
func FromMap(p Program, m map[string]string) (Config, error) {
	var errs []error
	lower := make(map[string]string, len(m))
	var unknown []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		l := strings.ToLower(k)
		if _, ok := Lookup(l); !ok {
			unknown = append(unknown, k)
			continue
		}
		if _, dup := lower[l]; dup {
			errs = append(errs, keyErr(l, "%s is given twice, in different cases", l))
		}
		lower[l] = m[k]
	}
	if len(unknown) > 0 {
		names := make([]string, len(keys))
		for i, k := range keys {
			names[i] = k.Name
		}
		errs = append(errs, &UnknownKeysError{Keys: unknown, Known: names})
	}
	c, err := FromLookup(p, func(k string) string { return lower[k] })
	if err = errors.Join(append(errs, err)...); err != nil {
		return Config{}, err
	}
	return c, nil
}

// FromLookup reads each key through get, which returns "" for an unset key
// (as Fluent Bit's output_get_property does). The error names every bad
// or missing key.
func FromLookup(p Program, get func(key string) string) (Config, error) {
	b := build{Config: Default(p), rule: map[string]string{}}
	var errs []error
	for _, k := range keys {
		v := strings.TrimSpace(get(k.Name))
		if v == "" {
			if k.Required && p == Plugin {
				errs = append(errs, keyErr(k.Name, "%s is missing: set it to the %s", k.Name, k.Text()))
			}
			continue
		}
		if err := k.set(&b, v); err != nil {
			switch {
			case k.Secret:
				errs = append(errs, keyErr(k.Name, "%s: %w", k.Name, err))
			case k.Redact != nil:
				errs = append(errs, keyErr(k.Name, "%s = %q: %w", k.Name, k.Redact(v), err))
			default:
				errs = append(errs, keyErr(k.Name, "%s = %q: %w", k.Name, v, err))
			}
		}
	}
	if p == Plugin {
		switch {
		case b.Engine.StateBackend == engine.BackendRedis && b.Engine.Redis.Address == "":
			errs = append(errs, keyErr("redis_address", "redis_address is missing: state_backend redis needs the server's address"))
		case b.Engine.StateBackend != engine.BackendRedis && b.Engine.StateDir == "":
			errs = append(errs, keyErr("state_dir", "state_dir is missing: set it to the %s", strings.TrimSuffix(keyText("state_dir"), ". Required with state_backend pebble")))
		}
	}
	errs = append(errs, b.inline()...)
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return b.Config, nil
}

// ruleKey keeps a value of the inline rule for inline.
func ruleKey(name string) func(*build, string) error {
	return func(b *build, v string) error {
		b.rule[name] = v
		return nil
	}
}

// inline builds the rule of the rule_* keys: all of name, query, fields and
// window, or none.
func (b *build) inline() []error {
	if len(b.rule) == 0 {
		return nil
	}
	var errs []error
	for _, k := range inlineKeys {
		if b.rule[k] == "" {
			errs = append(errs, keyErr(k, "%s is missing: an inline rule needs %s", k, strings.Join(inlineKeys, ", ")))
		}
	}
	if len(errs) > 0 {
		return errs
	}
	r, err := rules.Inline(b.rule["rule_id"], b.rule["rule_name"], b.rule["rule_query"], splitList(b.rule["rule_fields"]), b.rule["rule_window"])
	if err != nil {
		return []error{keyErr("rule_query", "inline rule (rule_*): %w", err)}
	}
	b.Engine.Inline = r
	return nil
}

// boolKey sets the flag that field points to from on/off.
func boolKey(field func(*build) *bool) func(*build, string) error {
	return func(b *build, v string) error {
		switch strings.ToLower(v) {
		case "on", "true", "yes", "1":
			*field(b) = true
		case "off", "false", "no", "0":
			*field(b) = false
		default:
			return errors.New("want on or off")
		}
		return nil
	}
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func parseSizeAtLeast(v string, least int64) (int64, error) {
	n, err := ParseSize(v)
	if err == nil && n < least {
		err = fmt.Errorf("at least %s", sizeText(least))
	}
	return n, err
}

// ParseSize reads a byte count such as 512, 64k, 1m, 1MB, 2g or 64MiB
// (binary multiples, as Fluent Bit reads sizes).
func ParseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "ib"), "b")
	mult := int64(1)
	if t != "" {
		switch t[len(t)-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = 1 << 20
		case 'g':
			mult = 1 << 30
		}
		if mult != 1 {
			t = t[:len(t)-1]
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, errors.New("not a size: want a whole number of bytes with an optional k, m or g suffix")
	}
	return n * mult, nil
}

// sizeText writes a byte count as a user would: 1024 is 1k.
func sizeText(n int64) string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}} {
		if n >= u.mult && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// durText writes a duration as a user would: 24h rather than 24h0m0s.
func durText(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// MatchCatches reports whether a Fluent Bit match pattern ('*' matches any
// run of characters) catches tags made from the alert tag: an output that
// matches its own alerts feeds them back to itself forever.
// Placeholders are tried with every severity and an arbitrary rule id.
func MatchCatches(match, alertTag string) bool {
	for _, sev := range []string{"low", "medium", "high", "critical"} {
		tag := strings.NewReplacer("{rule_id}", "rule", "{severity}", sev).Replace(alertTag)
		if globMatch(match, tag) {
			return true
		}
	}
	return false
}

func globMatch(p, s string) bool {
	for len(p) > 0 {
		if p[0] == '*' {
			for i := len(s); i >= 0; i-- {
				if globMatch(p[1:], s[i:]) {
					return true
				}
			}
			return false
		}
		if len(s) == 0 || p[0] != s[0] {
			return false
		}
		p, s = p[1:], s[1:]
	}
	return len(s) == 0
}
