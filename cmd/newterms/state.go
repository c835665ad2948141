package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/newterms/newterms/internal/config"
	"github.com/newterms/newterms/internal/engine"
	"github.com/newterms/newterms/internal/seen"
)

const stateUsage = `usage: newterms state stats|list|compact --state DIR|URL [--json] [--limit N] [RULE]
       newterms state copy --from DIR|URL --to DIR|URL
  stats: tuples per rule, coverage, oldest/newest, outbox size
  list RULE: a rule's tuples (rule key, key prefix or name)
  compact: remove expired tuples now
  copy: copy a state into an empty one (an embedded state to a shared one, or back)
A URL (redis://host:6379/0, rediss://..., unix:///path) is a shared state on a Redis or Valkey server.`

// isShared says whether a --state value names a shared state's server.
func isShared(spec string) bool {
	for _, s := range []string{"redis://", "rediss://", "unix://"} {
		if strings.HasPrefix(spec, s) {
			return true
		}
	}
	return false
}

// stateKeys are the configuration keys a --state value stands for: a
// directory, or a server's address; password and prefix apply to a
// server.
func stateKeys(spec, password, prefix string) map[string]string {
	if isShared(spec) {
		return map[string]string{"state_backend": engine.BackendRedis, "redis_address": spec, "redis_password": password, "redis_key_prefix": prefix}
	}
	return map[string]string{"state_dir": spec, "redis_password": password, "redis_key_prefix": prefix}
}

// openStore opens the store a --state value names.
func openStore(spec, password, prefix string) (seen.Store, error) {
	conf, err := config.FromMap(config.CLI, stateKeys(spec, password, prefix))
	if err != nil {
		return nil, err
	}
	if !isShared(spec) {
		return seen.OpenPebble(spec, nil, releaseCMemory)
	}
	r := conf.Engine.Redis
	return seen.OpenRedis(seen.RedisOptions{Address: r.Address, Password: r.Password, KeyPrefix: r.KeyPrefix, Timeout: r.Timeout})
}

func runState(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, stateUsage)
		return 2
	}
	sub := args[0]
	fl := flag.NewFlagSet("state "+sub, flag.ContinueOnError)
	fl.SetOutput(stderr)
	dir := fl.String("state", "", "state directory, or a shared state's server (redis://, rediss://, unix://)")
	from := fl.String("from", "", "copy: the state to copy (directory or URL)")
	to := fl.String("to", "", "copy: the empty state to copy into (directory or URL)")
	password := keyFlag(fl, "redis-password", "redis_password")
	prefix := keyFlag(fl, "redis-key-prefix", "redis_key_prefix")
	asJSON := fl.Bool("json", false, "stats: as JSON, under the metrics' names where they are the same")
	limit := fl.Int("limit", 0, "list: at most this many tuples (0: all)")
	if err := fl.Parse(args[1:]); err != nil {
		return 2
	}
	if sub == "copy" {
		if *from == "" || *to == "" || fl.NArg() != 0 {
			fmt.Fprintln(stderr, stateUsage)
			return 2
		}
		return runCopy(*from, *to, *password, *prefix, stdout, stderr)
	}
	if *dir == "" || (sub == "list") != (fl.NArg() == 1) || (sub != "list" && fl.NArg() != 0) {
		fmt.Fprintln(stderr, stateUsage)
		return 2
	}
	store, err := openStore(*dir, *password, *prefix)
	if err != nil {
		fmt.Fprintf(stderr, "newterms state: %v\n", err)
		return 1
	}
	s, err := seen.Open(seen.Options{Store: store, CompactInterval: -1, ReleaseCMemory: releaseCMemory})
	if err != nil {
		fmt.Fprintf(stderr, "newterms state: %v\n", err)
		return 1
	}
	defer s.Close()
	switch sub {
	case "stats":
		st, err := s.Stats()
		if err != nil {
			fmt.Fprintf(stderr, "newterms state: %v\n", err)
			return 1
		}
		if *asJSON {
			return statsJSON(s, st, stdout, stderr)
		}
		for _, r := range st {
			cov := "learning"
			if r.Covered {
				cov = "covered"
			}
			fmt.Fprintf(stdout, "%s\n  key %s, window %s, %d tuples, %s, events %s .. %s\n", r.Name, r.Key, r.Window, r.Tuples, cov, day(r.Earliest), day(r.Newest))
		}
		n, bytes := s.OutboxSize()
		fmt.Fprintf(stdout, "outbox: %d alerts, %d bytes\n", n, bytes)
	case "list":
		n := 0
		err := s.List(fl.Arg(0), func(t seen.Tuple) bool {
			fmt.Fprintf(stdout, "%s\tfirst %s\tlast %s\tfirst event %s\n", strings.Join(t.Values, " | "), day(t.FirstSeen), day(t.LastSeen), t.FirstEventID)
			n++
			return *limit == 0 || n < *limit
		})
		if err != nil {
			fmt.Fprintf(stderr, "newterms state: %v\n", err)
			return 1
		}
	case "compact":
		n, err := s.Compact()
		if err != nil {
			fmt.Fprintf(stderr, "newterms state: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "removed %d expired tuples\n", n)
	default:
		fmt.Fprintln(stderr, stateUsage)
		return 2
	}
	return 0
}

// runCopy copies a state into an empty one.
func runCopy(from, to, password, prefix string, stdout, stderr io.Writer) int {
	src, err := openStore(from, password, prefix)
	if err != nil {
		fmt.Fprintf(stderr, "newterms state copy: %v\n", err)
		return 1
	}
	defer src.Close()
	// The source must be a state this build reads.
	check, err := seen.Open(seen.Options{Store: nopClose{src}, CompactInterval: -1, ReleaseCMemory: releaseCMemory})
	if err != nil {
		fmt.Fprintf(stderr, "newterms state copy: %s: %v\n", seen.RedactAddress(from), err)
		return 1
	}
	check.Close()
	dst, err := openStore(to, password, prefix)
	if err != nil {
		fmt.Fprintf(stderr, "newterms state copy: %v\n", err)
		return 1
	}
	defer dst.Close()
	n, err := seen.Copy(dst, src)
	if err != nil {
		fmt.Fprintf(stderr, "newterms state copy: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "copied %d rules, %d tuples, %d alerts waiting, %d other records\n", n.Rules, n.Tuples, n.Alerts, n.Other)
	return 0
}

// nopClose keeps a store open when the state over it closes.
type nopClose struct{ seen.Store }

func (nopClose) Close() error { return nil }

func day(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.RFC3339)
}

// statsJSON writes the state's figures: per rule, and those the plugin
// exports as metrics, under the metrics' names.
func statsJSON(s *seen.State, st []seen.RuleStats, stdout, stderr io.Writer) int {
	type rule struct {
		Name     string     `json:"name"`
		Key      string     `json:"key"`
		Window   float64    `json:"window_seconds"`
		Tuples   int64      `json:"tuples"`
		Covered  bool       `json:"covered"`
		Earliest *time.Time `json:"earliest,omitempty"`
		Newest   *time.Time `json:"newest,omitempty"`
	}
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	out := struct {
		Rules        []rule  `json:"rules"`
		OutboxAlerts int64   `json:"outbox_alerts"`
		OutboxBytes  int64   `json:"outbox_bytes"`
		OutboxAge    float64 `json:"outbox_oldest_age_seconds"`
		Held         int64   `json:"held_events"`
		StateSize    *int64  `json:"state_size_bytes"`
	}{Rules: []rule{}, Held: s.HeldEvents()}
	for _, r := range st {
		out.Rules = append(out.Rules, rule{r.Name, r.Key, r.Window.Seconds(), int64(r.Tuples), r.Covered, opt(r.Earliest), opt(r.Newest)})
	}
	out.OutboxAlerts, out.OutboxBytes = s.OutboxSize()
	if o := s.OutboxOldest(); !o.IsZero() {
		out.OutboxAge = time.Since(o).Seconds()
	}
	if n, ok := s.DiskUsage(); ok {
		out.StateSize = &n
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintf(stderr, "newterms state: %v\n", err)
		return 1
	}
	return 0
}
