// Package config holds the settings shared by the Fluent Bit plugin and the
// CLI, under the same snake_case key names, and validates them: a bad value
// is an error that names the key and says what is allowed.
package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/newterms/newterms/internal/asn"
	"github.com/newterms/newterms/internal/cloudtrail"
	"github.com/newterms/newterms/internal/forward"
	"github.com/newterms/newterms/internal/rules"
	"github.com/newterms/newterms/internal/seen"
)

// Config is the validated configuration of one plugin instance or CLI run.
type Config struct {
	// RecordKeys are the Fluent Bit record keys that may hold CloudTrail
	// JSON text (record_key, comma separated).
	RecordKeys []string
	// MaxRecordSize caps one record, and each payload decoded inside it.
	MaxRecordSize int
	// ASNDatabase is the mmdb file for source.as.*; "" turns enrichment off.
	ASNDatabase string
	// ASNReloadInterval is how often the database file is checked for
	// replacement; negative disables the check.
	ASNReloadInterval time.Duration
	// Rules are rule files or directories (rules, comma separated).
	Rules []string
	// Inline is the rule given by the rule_* keys, or nil.
	Inline *rules.Rule
	// StateDir holds the seen state and the alert outbox.
	StateDir string
	// CacheSize bounds the hot cache of seen tuples, in bytes.
	CacheSize int64
	// Learning: a rule alerts only once its state covers a whole window.
	Learning bool
	// AlertTag is the Fluent Bit tag of alerts; may hold {rule_id} and
	// {severity}.
	AlertTag string
	// IncludeOriginal adds the CloudTrail record to alerts (event.original).
	IncludeOriginal bool
	// MaxTuples caps the term tuples one rule takes from one event.
	MaxTuples int
	// Prefilter skips, unparsed, records that contain no literal any rule
	// needs.
	Prefilter bool
	// ForwardAddress is Fluent Bit's in_forward, where alerts go back in:
	// unix:///path or tcp://host:port.
	ForwardAddress string
	// ForwardSharedKey answers in_forward's shared-key handshake.
	ForwardSharedKey string
	// MaxLateness is the reorder window: events up to this much older than
	// the newest of their rule are decided in event-time order; 0 decides
	// in arrival order.
	MaxLateness time.Duration
}

// Default is the configuration with every key unset.
func Default() Config {
	return Config{
		RecordKeys:        cloudtrail.DefaultRecordKeys,
		MaxRecordSize:     cloudtrail.DefaultMaxRecordSize,
		ASNReloadInterval: asn.DefaultReloadInterval,
		CacheSize:         seen.DefaultCacheSize,
		Learning:          true,
		AlertTag:          DefaultAlertTag,
		MaxTuples:         64,
		Prefilter:         true,
	}
}

// DefaultAlertTag is the tag alerts carry back into Fluent Bit.
const DefaultAlertTag = "newterms.alert"

// MaxMaxLateness bounds max_lateness: held events, with their alert
// documents, stay in memory until released.
const MaxMaxLateness = 24 * time.Hour

type key struct {
	help string
	set  func(c *Config, v string) error
}

var keys = map[string]key{
	"forward_address": {"in_forward that alerts go back into: unix:///path/to/socket or tcp://127.0.0.1:24224",
		func(c *Config, v string) error {
			if _, _, err := forward.ParseAddress(v); err != nil {
				return err
			}
			c.ForwardAddress = v
			return nil
		}},
	"forward_shared_key": {"shared key of in_forward's security section, if it has one",
		func(c *Config, v string) error { c.ForwardSharedKey = v; return nil }},
	"state_dir": {"directory of the seen state and the alert outbox (created 0700; one instance per directory)",
		func(c *Config, v string) error { c.StateDir = v; return nil }},
	"cache_size": {"hot cache of seen tuples in bytes, with an optional k/m/g suffix (default 64m)",
		func(c *Config, v string) error {
			n, err := ParseSize(v)
			if err == nil && n < 1<<20 {
				err = fmt.Errorf("at least 1m")
			}
			c.CacheSize = n
			return err
		}},
	"learning": {"on: a rule alerts only once its state covers a whole history window; off: from the first event (default on)", boolKey(func(c *Config) *bool { return &c.Learning })},
	"alert_tag": {"tag of the alerts re-emitted into Fluent Bit; may hold {rule_id} and {severity} (default newterms.alert)",
		func(c *Config, v string) error {
			rest := strings.NewReplacer("{rule_id}", "", "{severity}", "").Replace(v)
			if strings.ContainsAny(rest, "{} \t") {
				return fmt.Errorf("only the placeholders {rule_id} and {severity} are known, and no spaces")
			}
			c.AlertTag = v
			return nil
		}},
	"prefilter":        {"on: records holding none of the literals the rules need are skipped before parsing (default on)", boolKey(func(c *Config) *bool { return &c.Prefilter })},
	"include_original": {"on: alerts carry the original CloudTrail record as event.original (default off)", boolKey(func(c *Config) *bool { return &c.IncludeOriginal })},
	"max_tuples": {"most term tuples one rule takes from one event, the rest counted as overflow (default 64)",
		func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 100000 {
				return fmt.Errorf("want a whole number from 1 to 100000")
			}
			c.MaxTuples = n
			return nil
		}},
	"rules": {"rule files or directories (detection-rules TOML), comma separated",
		func(c *Config, v string) error {
			c.Rules = splitList(v)
			if len(c.Rules) == 0 {
				return fmt.Errorf("want one or more paths")
			}
			return nil
		}},
	"rule_id":     {"inline rule: its id (default derived from rule_name)", nop},
	"rule_name":   {"inline rule: its name", nop},
	"rule_query":  {"inline rule: its KQL query", nop},
	"rule_fields": {"inline rule: 1 to 3 new_terms fields, comma separated", nop},
	"rule_window": {"inline rule: its history window, e.g. now-10d", nop},
	"asn_database": {"path of a MaxMind-format ASN database (GeoLite2-ASN, GeoIP2-ISP, DB-IP ASN Lite, IPinfo Lite); unset: no source.as.* fields",
		func(c *Config, v string) error { c.ASNDatabase = v; return nil }},
	"asn_reload_interval": {"how often to check the ASN database file for replacement, e.g. 60s or 5m, or off (default 60s)",
		func(c *Config, v string) error {
			if strings.EqualFold(v, "off") {
				c.ASNReloadInterval = -1
				return nil
			}
			d, err := time.ParseDuration(v)
			if err != nil || d < time.Second {
				return fmt.Errorf("want a duration of at least 1s, or off")
			}
			c.ASNReloadInterval = d
			return nil
		}},
	"max_lateness": {"reorder window: events at most this much older (in event time) than the newest their rule has seen are decided in event-time order, their alerts held until then, e.g. 5m; 0 or off: arrival order (default off)",
		func(c *Config, v string) error {
			if strings.EqualFold(v, "off") || v == "0" {
				c.MaxLateness = 0
				return nil
			}
			d, err := time.ParseDuration(v)
			if err != nil || d < time.Second || d > MaxMaxLateness {
				return fmt.Errorf("want a duration from 1s to %s, or 0 or off", MaxMaxLateness)
			}
			c.MaxLateness = d
			return nil
		}},
	"record_key": {"comma-separated record keys holding CloudTrail JSON text (default log,message)",
		func(c *Config, v string) error {
			c.RecordKeys = splitList(v)
			if len(c.RecordKeys) == 0 {
				return fmt.Errorf("want one or more key names")
			}
			return nil
		}},
	"max_record_size": {"largest record in bytes, with an optional k/m suffix (default 1m)",
		func(c *Config, v string) error {
			n, err := ParseSize(v)
			if err == nil && n < 1024 {
				err = fmt.Errorf("at least 1k")
			}
			if err != nil {
				return err
			}
			c.MaxRecordSize = int(n)
			return nil
		}},
}

// Keys lists the key names, sorted, each with its help text.
func Keys() [][2]string {
	out := make([][2]string, 0, len(keys))
	for k, v := range keys {
		out = append(out, [2]string{k, v.help})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// FromMap validates a complete set of settings: unknown keys are errors.
func FromMap(m map[string]string) (Config, error) {
	for k := range m {
		if _, ok := keys[strings.ToLower(k)]; !ok {
			return Config{}, fmt.Errorf("config: unknown key %q (known: %s)", k, knownList())
		}
	}
	return FromLookup(func(k string) string {
		for mk, v := range m {
			if strings.EqualFold(mk, k) {
				return v
			}
		}
		return ""
	})
}

// FromLookup reads each known key through get, which returns "" for an
// unset key (as Fluent Bit's output_get_property does).
func FromLookup(get func(key string) string) (Config, error) {
	c := Default()
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := strings.TrimSpace(get(k))
		if v == "" {
			continue
		}
		if err := keys[k].set(&c, v); err != nil {
			return Config{}, fmt.Errorf("config: %s = %q: %w; %s", k, v, err, keys[k].help)
		}
	}
	return c, c.inline(get)
}

func nop(*Config, string) error { return nil }

// boolKey sets the flag that field points to from on/off.
func boolKey(field func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := parseBool(v)
		*field(c) = b
		return err
	}
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "on", "true", "yes", "1":
		return true, nil
	case "off", "false", "no", "0":
		return false, nil
	}
	return false, fmt.Errorf("want on or off")
}

// inline builds the rule of the rule_* keys: all of name, query, fields and
// window, or none.
func (c *Config) inline(get func(string) string) error {
	v := map[string]string{}
	for _, k := range []string{"rule_id", "rule_name", "rule_query", "rule_fields", "rule_window"} {
		if s := strings.TrimSpace(get(k)); s != "" {
			v[k] = s
		}
	}
	if len(v) == 0 {
		return nil
	}
	for _, k := range []string{"rule_name", "rule_query", "rule_fields", "rule_window"} {
		if v[k] == "" {
			return fmt.Errorf("config: %s is missing: an inline rule needs rule_name, rule_query, rule_fields and rule_window", k)
		}
	}
	r, err := rules.Inline(v["rule_id"], v["rule_name"], v["rule_query"], splitList(v["rule_fields"]), v["rule_window"])
	if err != nil {
		return fmt.Errorf("config: inline rule (rule_*): %w", err)
	}
	c.Inline = r
	return nil
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

func knownList() string {
	var ks []string
	for _, k := range Keys() {
		ks = append(ks, k[0])
	}
	return strings.Join(ks, ", ")
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
		return 0, fmt.Errorf("not a size: want a whole number of bytes with an optional k, m or g suffix")
	}
	return n * mult, nil
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
