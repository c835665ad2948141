package config

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/newterms/newterms/internal/metrics"
)

// Each problem of a configuration is an error that names its key, so that
// a caller (config check) can point at the key's line; unknown keys come
// as one UnknownKeysError.
func TestKeyErrors(t *testing.T) {
	_, err := FromMap(Plugin, map[string]string{"state_dir": "s", "cache_size": "1k", "Learning": "maybe",
		"rule_name": "x", "metrics_listen": "nowhere", "colour": "red", "Bogus": "1"})
	var keys []string
	for _, ke := range KeyErrors(err) {
		if ke.Err == nil || ke.Error() == "" {
			t.Errorf("%s: no message", ke.Key)
		}
		keys = append(keys, ke.Key)
	}
	want := []string{"forward_address", "cache_size", "learning", "metrics_listen", "rule_query", "rule_fields", "rule_window"}
	if !slices.Equal(keys, want) {
		t.Errorf("keys %v, want %v", keys, want)
	}
	var u *UnknownKeysError
	if !errors.As(err, &u) || !slices.Equal(u.Keys, []string{"Bogus", "colour"}) || !slices.Contains(u.Known, "state_dir") {
		t.Errorf("unknown keys: %+v", u)
	}
}

func TestMetricsKeys(t *testing.T) {
	for _, tc := range []struct {
		in   map[string]string
		want metrics.Options
		ok   bool
	}{
		{nil, metrics.Options{}, true},
		{map[string]string{"metrics_listen": "on", "summary_interval": "5m"}, metrics.Options{Listen: metrics.DefaultListen, SummaryInterval: 5 * time.Minute}, true},
		{map[string]string{"metrics_listen": "9100", "summary_interval": "off"}, metrics.Options{Listen: "127.0.0.1:9100"}, true},
		{map[string]string{"metrics_listen": "0.0.0.0:9100", "summary_interval": "0"}, metrics.Options{Listen: "0.0.0.0:9100"}, true},
		{map[string]string{"summary_interval": "1s"}, metrics.Options{}, false},
		{map[string]string{"summary_interval": "often"}, metrics.Options{}, false},
		{map[string]string{"metrics_listen": "a:b"}, metrics.Options{}, false},
	} {
		c, err := FromMap(CLI, tc.in)
		if (err == nil) != tc.ok || (tc.ok && c.Metrics != tc.want) {
			t.Errorf("%v: %+v, %v; want %+v", tc.in, c.Metrics, err, tc.want)
		}
	}
}
