package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/newterms/newterms/internal/seen"
)

func runState(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	usage := "usage: newterms state stats|list|compact --state DIR [--json] [RULE]"
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	sub := args[0]
	fl := flag.NewFlagSet("state "+sub, flag.ContinueOnError)
	fl.SetOutput(stderr)
	dir := fl.String("state", "", "state directory")
	asJSON := fl.Bool("json", false, "stats: as JSON, under the metrics' names where they are the same")
	limit := fl.Int("limit", 0, "list: at most this many tuples (0: all)")
	if err := fl.Parse(args[1:]); err != nil {
		return 2
	}
	if *dir == "" || (sub == "list") != (fl.NArg() == 1) || (sub != "list" && fl.NArg() != 0) {
		fmt.Fprintln(stderr, usage+"\n  stats: tuples per rule, coverage, oldest/newest, outbox size\n  list RULE: a rule's tuples (rule key, key prefix or name)\n  compact: remove expired tuples now")
		return 2
	}
	s, err := seen.Open(seen.Options{Dir: *dir, CompactInterval: -1, ReleaseCMemory: releaseCMemory})
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
		fmt.Fprintln(stderr, usage)
		return 2
	}
	return 0
}

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
