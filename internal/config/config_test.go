package config

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"
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
			return c.MaxRecordSize == 1<<20 && slices.Equal(c.RecordKeys, []string{"log", "message"}) &&
				c.ASNDatabase == "" && c.ASNReloadInterval == time.Minute
		}, ""},
		{"record keys", map[string]string{"record_key": " log , msg,"}, func(c Config) bool {
			return slices.Equal(c.RecordKeys, []string{"log", "msg"})
		}, ""},
		{"case-insensitive key", map[string]string{"Max_Record_Size": "2m"}, func(c Config) bool { return c.MaxRecordSize == 2<<20 }, ""},
		{"asn", map[string]string{"asn_database": "/var/lib/GeoIP/GeoLite2-ASN.mmdb", "asn_reload_interval": "5m"}, func(c Config) bool {
			return c.ASNDatabase == "/var/lib/GeoIP/GeoLite2-ASN.mmdb" && c.ASNReloadInterval == 5*time.Minute
		}, ""},
		{"asn reload off", map[string]string{"asn_reload_interval": "off"}, func(c Config) bool { return c.ASNReloadInterval < 0 }, ""},
		{"asn reload too short", map[string]string{"asn_reload_interval": "10ms"}, nil, "asn_reload_interval"},
		{"asn reload not a duration", map[string]string{"asn_reload_interval": "often"}, nil, "want a duration"},
		{"max lateness", map[string]string{"max_lateness": "5m"}, func(c Config) bool { return c.MaxLateness == 5*time.Minute }, ""},
		{"max lateness off", map[string]string{"max_lateness": "off"}, func(c Config) bool { return c.MaxLateness == 0 }, ""},
		{"max lateness 0", map[string]string{"max_lateness": "0"}, func(c Config) bool { return c.MaxLateness == 0 }, ""},
		{"max lateness default", nil, func(c Config) bool { return c.MaxLateness == 0 }, ""},
		{"max lateness too short", map[string]string{"max_lateness": "500ms"}, nil, "max_lateness"},
		{"max lateness too long", map[string]string{"max_lateness": "25h"}, nil, "from 1s to 24h0m0s"},
		{"max lateness negative", map[string]string{"max_lateness": "-5m"}, nil, "max_lateness"},
		{"max lateness not a duration", map[string]string{"max_lateness": "5"}, nil, `max_lateness = "5": want a duration`},
		{"rules", map[string]string{"rules": "conf/rules, /etc/newterms/rules"}, func(c Config) bool {
			return slices.Equal(c.Rules, []string{"conf/rules", "/etc/newterms/rules"}) && c.Inline == nil
		}, ""},
		{"inline rule", map[string]string{"rule_name": "OIDC", "rule_query": "event.action: AssumeRoleWithWebIdentity",
			"rule_fields": "user.id, source.as.number", "rule_window": "now-10d"}, func(c Config) bool {
			return c.Inline != nil && c.Inline.Name == "OIDC" && slices.Equal(c.Inline.Fields, []string{"user.id", "source.as.number"}) &&
				c.Inline.Window == 240*time.Hour
		}, ""},
		{"inline rule incomplete", map[string]string{"rule_name": "OIDC"}, nil, "rule_query is missing"},
		{"inline rule bad query", map[string]string{"rule_name": "x", "rule_query": "event.action: (", "rule_fields": "user.id", "rule_window": "1d"},
			nil, "inline rule (rule_*): query: 1:16"},
		{"engine keys", map[string]string{"state_dir": "/var/lib/newterms", "cache_size": "128m", "learning": "off",
			"alert_tag": "alert.{severity}.{rule_id}", "include_original": "on", "max_tuples": "10"}, func(c Config) bool {
			return c.StateDir == "/var/lib/newterms" && c.CacheSize == 128<<20 && !c.Learning && c.AlertTag == "alert.{severity}.{rule_id}" &&
				c.IncludeOriginal && c.MaxTuples == 10
		}, ""},
		{"engine defaults", nil, func(c Config) bool {
			return c.Learning && c.AlertTag == "newterms.alert" && c.CacheSize == 64<<20 && !c.IncludeOriginal && c.MaxTuples == 64
		}, ""},
		{"bad learning", map[string]string{"learning": "sometimes"}, nil, `learning = "sometimes": want on or off`},
		{"bad tag", map[string]string{"alert_tag": "alerts.{name}"}, nil, "only the placeholders"},
		{"small cache", map[string]string{"cache_size": "10k"}, nil, "at least 1m"},
		{"bad max_tuples", map[string]string{"max_tuples": "0"}, nil, "max_tuples"},
		{"forward", map[string]string{"forward_address": "unix:///run/fluent-bit/forward.sock", "forward_shared_key": "k"}, func(c Config) bool {
			return c.ForwardAddress == "unix:///run/fluent-bit/forward.sock" && c.ForwardSharedKey == "k"
		}, ""},
		{"bad forward address", map[string]string{"forward_address": "localhost:24224"}, nil, "forward_address"},
		{"unknown key", map[string]string{"max_recrod_size": "1m"}, nil, `unknown key "max_recrod_size"`},
		{"bad size", map[string]string{"max_record_size": "lots"}, nil, `max_record_size = "lots": not a size`},
		{"too small", map[string]string{"max_record_size": "10"}, nil, "at least 1k"},
		{"empty keys", map[string]string{"record_key": ", ,"}, nil, "record_key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := FromMap(c.in)
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

// The README documents every key.
func TestREADMEKeys(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range Keys() {
		if !strings.Contains(string(readme), "`"+k[0]+"`") {
			t.Errorf("README does not document the key %s", k[0])
		}
	}
}
