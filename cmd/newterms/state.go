package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/newterms/newterms/internal/seen"
)

func runState(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	usage := "usage: newterms state stats|list|compact --state DIR [RULE]"
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	sub := args[0]
	fl := flag.NewFlagSet("state "+sub, flag.ContinueOnError)
	fl.SetOutput(stderr)
	dir := fl.String("state", "", "state directory")
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
