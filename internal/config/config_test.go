package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/newterms/newterms/internal/asn"
	"github.com/newterms/newterms/internal/cloudtrail"
	"github.com/newterms/newterms/internal/engine"
	"github.com/newterms/newterms/internal/seen"
)

func TestParseSize(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"512", 512, true}, {"64k", 64 << 10, true}, {"1m", 1 << 20, true}, {"1MB", 1 << 20, true},
		{"64MiB", 64 << 20, true}, {"2G", 2 << 30, true}, {" 8 k", 8 << 10, true},
		{"", 0, false}, {"k", 0, false}, {"-1", 0, false}, {"1.5m", 0, false}, {"1t", 0, false},
		{"99999999999999999999", 0, false},
	}
	for _, c := range cases {
		got, err := ParseSize(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestFromMap(t *testing.T) {
	cases := []struct {
		name    string
		in      map[string]string
		check   func(Config) bool
		wantErr string // substring; "" for success
	}{
		{"defaults", nil, func(c Config) bool {
			return c.Engine.MaxRecordSize == 1<<20 && slices.Equal(c.Engine.RecordKeys, []string{"log", "message"}) &&
				c.Engine.ASNDatabase == "" && c.Engine.ASNReloadInterval == time.Minute
		}, ""},
		{"record keys", map[string]string{"record_key": " log , msg,"}, func(c Config) bool {
			return slices.Equal(c.Engine.RecordKeys, []string{"log", "msg"})
		}, ""},
		{"case-insensitive key", map[string]string{"Max_Record_Size": "2m"}, func(c Config) bool { return c.Engine.MaxRecordSize == 2<<20 }, ""},
		{"asn", map[string]string{"asn_database": "/var/lib/GeoIP/GeoLite2-ASN.mmdb", "asn_reload_interval": "5m"}, func(c Config) bool {
			return c.Engine.ASNDatabase == "/var/lib/GeoIP/GeoLite2-ASN.mmdb" && c.Engine.ASNReloadInterval == 5*time.Minute
		}, ""},
		{"asn reload off", map[string]string{"asn_reload_interval": "off"}, func(c Config) bool { return c.Engine.ASNReloadInterval < 0 }, ""},
		{"asn reload too short", map[string]string{"asn_reload_interval": "10ms"}, nil, "asn_reload_interval"},
		{"asn reload not a duration", map[string]string{"asn_reload_interval": "often"}, nil, "want a duration"},
		{"max lateness", map[string]string{"max_lateness": "5m"}, func(c Config) bool { return c.Engine.MaxLateness == 5*time.Minute }, ""},
		{"max lateness off", map[string]string{"max_lateness": "off"}, func(c Config) bool { return c.Engine.MaxLateness == 0 }, ""},
		{"max lateness 0", map[string]string{"max_lateness": "0"}, func(c Config) bool { return c.Engine.MaxLateness == 0 }, ""},
		{"max lateness default", nil, func(c Config) bool { return c.Engine.MaxLateness == 0 }, ""},
		{"max lateness too short", map[string]string{"max_lateness": "500ms"}, nil, "max_lateness"},
		{"max lateness too long", map[string]string{"max_lateness": "25h"}, nil, "from 1s to 24h0m0s"},
		{"max lateness negative", map[string]string{"max_lateness": "-5m"}, nil, "max_lateness"},
		{"max lateness not a duration", map[string]string{"max_lateness": "5"}, nil, `max_lateness = "5": want a duration`},
		{"rules", map[string]string{"rules": "conf/rules, /etc/newterms/rules"}, func(c Config) bool {
			return slices.Equal(c.Engine.Rules, []string{"conf/rules", "/etc/newterms/rules"}) && c.Engine.Inline == nil
		}, ""},
		{"inline rule", map[string]string{"rule_name": "OIDC", "rule_query": "event.action: AssumeRoleWithWebIdentity",
			"rule_fields": "user.id, source.as.number", "rule_window": "now-10d"}, func(c Config) bool {
			return c.Engine.Inline != nil && c.Engine.Inline.Name == "OIDC" && slices.Equal(c.Engine.Inline.Fields, []string{"user.id", "source.as.number"}) &&
				c.Engine.Inline.Window == 240*time.Hour
		}, ""},
		{"inline rule incomplete", map[string]string{"rule_name": "OIDC"}, nil, "rule_query is missing"},
		{"inline rule bad query", map[string]string{"rule_name": "x", "rule_query": "event.action: (", "rule_fields": "user.id", "rule_window": "1d"},
			nil, "inline rule (rule_*): query: 1:16"},
		{"redis backend", map[string]string{"state_backend": "Redis", "redis_address": "redis://cache.internal:6380/2",
			"redis_key_prefix": "prod", "redis_timeout": "500ms", "redis_password": "s3cret"}, func(c Config) bool {
			r := c.Engine.Redis
			return c.Engine.StateBackend == engine.BackendRedis && r.Address == "redis://cache.internal:6380/2" && r.KeyPrefix == "prod" &&
				r.Timeout == 500*time.Millisecond && r.Password == "s3cret"
		}, ""},
		{"redis defaults", nil, func(c Config) bool {
			return c.Engine.StateBackend == engine.BackendPebble && c.Engine.Redis.KeyPrefix == seen.DefaultKeyPrefix && c.Engine.Redis.Timeout == seen.DefaultRedisTimeout
		}, ""},
		{"redis password from the environment", map[string]string{"redis_password": "env:NEWTERMS_TEST_REDIS_PW"}, func(c Config) bool {
			return c.Engine.Redis.Password == "from-env"
		}, ""},
		{"redis password from a file", map[string]string{"redis_password": "file:testdata/redis-password"}, func(c Config) bool {
			return c.Engine.Redis.Password == "from-file"
		}, ""},
		{"redis password from an unset variable", map[string]string{"redis_password": "env:NEWTERMS_TEST_UNSET"}, nil, "config: redis_password: environment variable NEWTERMS_TEST_UNSET is unset"},
		{"redis password file missing", map[string]string{"redis_password": "file:/nonexistent/pw"}, nil, "config: redis_password: password file: open /nonexistent/pw"},
		{"unknown state backend", map[string]string{"state_backend": "etcd"}, nil, `state_backend = "etcd": want pebble or redis`},
		{"redis address of an unknown scheme", map[string]string{"redis_address": "http://cache:6379"}, nil, `unknown scheme "http"`},
		{"redis address with a password", map[string]string{"redis_address": "redis://:hunter2@cache:6379"}, nil, `redis_address = "redis://:xxxxx@cache:6379": a password in the address: set redis_password instead`},
		{"redis address with a bad database", map[string]string{"redis_address": "redis://cache:6379/x"}, nil, `database "x"`},
		{"redis address unix", map[string]string{"redis_address": "unix:///run/redis.sock?db=3"}, func(c Config) bool {
			return c.Engine.Redis.Address == "unix:///run/redis.sock?db=3"
		}, ""},
		{"redis timeout too short", map[string]string{"redis_timeout": "1ms"}, nil, "want a duration from 100ms to 1m0s"},
		{"redis key prefix with a brace", map[string]string{"redis_key_prefix": "a{b"}, nil, "no braces"},
		{"engine keys", map[string]string{"state_dir": "/var/lib/newterms", "cache_size": "128m", "learning": "off",
			"alert_tag": "alert.{severity}.{rule_id}", "include_original": "on", "max_tuples": "10"}, func(c Config) bool {
			return c.Engine.StateDir == "/var/lib/newterms" && c.Engine.CacheSize == 128<<20 && !c.Engine.Learning && c.Forward.Tag == "alert.{severity}.{rule_id}" &&
				c.Engine.IncludeOriginal && c.Engine.MaxTuples == 10
		}, ""},
		{"engine defaults", nil, func(c Config) bool {
			return c.Engine.Learning && c.Forward.Tag == "newterms.alert" && c.Engine.CacheSize == 64<<20 && !c.Engine.IncludeOriginal && c.Engine.MaxTuples == 64
		}, ""},
		{"bad learning", map[string]string{"learning": "sometimes"}, nil, `learning = "sometimes": want on or off`},
		{"bad tag", map[string]string{"alert_tag": "alerts.{name}"}, nil, "only the placeholders"},
		{"small cache", map[string]string{"cache_size": "10k"}, nil, "at least 1m"},
		{"bad max_tuples", map[string]string{"max_tuples": "0"}, nil, "max_tuples"},
		{"forward", map[string]string{"forward_address": "unix:///run/fluent-bit/forward.sock", "forward_shared_key": "k"}, func(c Config) bool {
			return c.Forward.Address == "unix:///run/fluent-bit/forward.sock" && c.Forward.SharedKey == "k"
		}, ""},
		{"bad forward address", map[string]string{"forward_address": "localhost:24224"}, nil, "forward_address"},
		{"unknown key", map[string]string{"max_recrod_size": "1m"}, nil, `unknown key "max_recrod_size"`},
		{"bad size", map[string]string{"max_record_size": "lots"}, nil, `max_record_size = "lots": not a size`},
		{"too small", map[string]string{"max_record_size": "10"}, nil, "at least 1k"},
		{"empty keys", map[string]string{"record_key": ", ,"}, nil, "record_key"},
	}
	t.Setenv("NEWTERMS_TEST_REDIS_PW", "from-env")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := FromMap(Plugin, withRequired(c.in))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, c.wantErr)
				}
				return
			}
			if err != nil || !c.check(got) {
				t.Fatalf("got %+v, %v", got, err)
			}
		})
	}
}

// A password never appears in a configuration error, even one about
// another key; the plugin needs an address with the redis backend and a
// state_dir with the embedded one.
func TestRedisKeys(t *testing.T) {
	_, err := FromMap(Plugin, map[string]string{"forward_address": "unix:///x.sock", "rules": "r", "state_backend": "redis",
		"redis_password": "hunter2", "redis_timeout": "never"})
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "redis_address is missing") {
		t.Errorf("error %v: want redis_address missing, and no password", err)
	}
	_, err = FromMap(Plugin, map[string]string{"forward_address": "unix:///x.sock", "rules": "r", "state_backend": "redis", "redis_address": "redis://h"})
	if err != nil {
		t.Errorf("redis without state_dir: %v", err)
	}
	_, err = FromMap(Plugin, map[string]string{"forward_address": "unix:///x.sock", "rules": "r"})
	if err == nil || !strings.Contains(err.Error(), "state_dir is missing") {
		t.Errorf("pebble without state_dir: %v", err)
	}
}

func TestMatchCatches(t *testing.T) {
	cases := []struct {
		match, tag string
		want       bool
	}{
		{"*", "newterms.alert", true},
		{"newterms.*", "newterms.alert", true},
		{"newterms.alert", "newterms.alert", true},
		{"cloudtrail", "newterms.alert", false},
		{"cloudtrail.*", "newterms.alert", false},
		{"alerts.*", "alerts.{severity}.{rule_id}", true},
		{"*.critical.*", "alerts.{severity}.{rule_id}", true},
		{"aws.*", "alerts.{severity}", false},
	}
	for _, c := range cases {
		if got := MatchCatches(c.match, c.tag); got != c.want {
			t.Errorf("MatchCatches(%q, %q) = %v", c.match, c.tag, got)
		}
	}
}

// withRequired adds the keys the plugin cannot do without, where m has
// none of its own.
func withRequired(m map[string]string) map[string]string {
	out := map[string]string{"state_dir": "/var/lib/newterms", "forward_address": "unix:///run/fluent-bit/newterms.sock"}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Every problem of a configuration is named in one error: each bad key
// with its value and what it accepts, every unknown key, every missing
// one.
func TestEveryProblemAtOnce(t *testing.T) {
	cases := []struct {
		name string
		p    Program
		in   map[string]string
		want []string // each in the error, one line each
	}{
		{"three bad and one unknown", Plugin, withRequired(map[string]string{
			"cache_size": "10k", "learning": "maybe", "max_lateness": "5", "max_recrod_size": "1m"}),
			[]string{`unknown key "max_recrod_size" (known: forward_address, forward_shared_key, record_key,`,
				`cache_size = "10k": at least 1m`, `learning = "maybe": want on or off`,
				`max_lateness = "5": want a duration from 1s to 24h0m0s, or 0 or off`}},
		{"two unknown, in one line", CLI, map[string]string{"color": "red", "Size": "1"},
			[]string{`unknown keys "Size", "color" (known: `}},
		{"nothing for the plugin", Plugin, nil,
			[]string{"forward_address is missing: set it to the in_forward that alerts go back into: unix:///path or tcp://127.0.0.1:24224",
				"state_dir is missing"}},
		{"an incomplete inline rule and a bad address", Plugin, map[string]string{"state_dir": "s", "forward_address": "localhost:24224", "rule_name": "x", "rule_window": "1d"},
			[]string{`forward_address = "localhost:24224": forward address "localhost:24224": scheme must be unix or tcp`,
				"rule_query is missing", "rule_fields is missing"}},
		{"one key in two cases", CLI, map[string]string{"learning": "on", "Learning": "off"},
			[]string{"learning is given twice"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := FromMap(c.p, c.in)
			if err == nil {
				t.Fatalf("no error; want %q", c.want)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(c.want) {
				t.Errorf("%d lines, want %d: %v", len(lines), len(c.want), err)
			}
			for _, w := range c.want {
				if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "config: ") && strings.Contains(l, w) }) {
					t.Errorf("no line holds %q: %v", w, err)
				}
			}
		})
	}
}

// The CLI does without the plugin's required keys, and has its own
// defaults where it reads differently.
func TestPrograms(t *testing.T) {
	cli, err := FromMap(CLI, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cli.Engine.MaxRecordSize != 256<<20 || cli.Engine.ASNReloadInterval >= 0 || cli.Engine.CacheSize != 64<<20 {
		t.Errorf("CLI defaults: %+v", cli.Engine)
	}
	if got := Default(CLI); got.Engine.MaxRecordSize != cli.Engine.MaxRecordSize {
		t.Errorf("Default(CLI) differs from an empty CLI configuration: %+v", got.Engine)
	}
	plugin, err := FromMap(Plugin, withRequired(nil))
	if err != nil || plugin.Engine.MaxRecordSize != 1<<20 {
		t.Errorf("plugin: %+v, %v", plugin.Engine, err)
	}
}

// The declared defaults are the ones the packages below fall back to when
// a setting is zero, so engine.Config{} and the documented defaults agree;
// and they pass the engine's own checks.
func TestDefaultsAgree(t *testing.T) {
	d := Default(Plugin)
	e := d.Engine
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"record_key", e.RecordKeys, cloudtrail.DefaultRecordKeys},
		{"max_record_size", e.MaxRecordSize, cloudtrail.DefaultMaxRecordSize},
		{"cache_size", e.CacheSize, int64(seen.DefaultCacheSize)},
		{"asn_reload_interval", e.ASNReloadInterval, asn.DefaultReloadInterval},
		{"max_tuples", e.MaxTuples, engine.DefaultMaxTuples},
		{"learning", e.Learning, true},
		{"prefilter", e.Prefilter, true},
		{"alert_tag", d.Forward.Tag, "newterms.alert"},
	} {
		if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
			t.Errorf("%s: declared default %v, the package's %v", c.what, c.got, c.want)
		}
	}
	for _, p := range []Program{Plugin, CLI} {
		e := Default(p).Engine
		e.StateDir = "s"
		if err := e.Validate(); err != nil {
			t.Errorf("program %d: the defaults fail the engine's checks: %v", p, err)
		}
	}
}

// Each key is declared once, with help fit for a table cell and a flag's
// usage, and a default that its own parser takes.
func TestKeysDeclared(t *testing.T) {
	name := regexp.MustCompile(`^[a-z]+(_[a-z]+)*$`)
	seen := map[string]bool{}
	for _, k := range Keys() {
		if !name.MatchString(k.Name) || seen[k.Name] {
			t.Errorf("key %q: not snake_case, or declared twice", k.Name)
		}
		seen[k.Name] = true
		if k.Help == "" || strings.ContainsAny(k.Help, "\n|") {
			t.Errorf("%s: help %q: empty, or not one table cell", k.Name, k.Help)
		}
		if k.Required && k.Default != "" {
			t.Errorf("%s: required, with a default", k.Name)
		}
		for _, p := range []Program{Plugin, CLI} {
			if v := k.DefaultFor(p); v != "" {
				if _, err := FromMap(p, withRequired(map[string]string{k.Name: v})); err != nil {
					t.Errorf("%s: the default %q: %v", k.Name, v, err)
				}
			}
		}
		if got, ok := Lookup(k.Name); !ok || got.Name != k.Name {
			t.Errorf("Lookup(%q) = %+v, %v", k.Name, got, ok)
		}
	}
	if _, ok := Lookup("nope"); ok {
		t.Error("Lookup found an undeclared key")
	}
}
