// Command newterms runs the newterms detection engine outside Fluent Bit:
// normalizing CloudTrail, and (as they land) ASN lookups, rule checks,
// replay and state inspection.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/newterms/newterms/internal/config"
	"github.com/newterms/newterms/internal/version"
)

type command struct {
	summary string
	run     func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

var commands = map[string]command{
	"normalize": {"print CloudTrail records as ECS documents, one JSON per event", runNormalize},
	"asn":       {"look addresses up in an ASN database as the plugin would", runASN},
	"rules":     {"check rule files (rules check), or show what they make of events (rules test)", runRules},
	"replay":    {"run the detection over CloudTrail files: alerts as NDJSON, or a learn-only backfill", runReplay},
	"state":     {"inspect or compact a state directory (state stats|list|compact)", runState},
	"config":    {"check a Fluent Bit configuration's newterms outputs (config check FILE)", runConfig},
	"version":   {"print the version, the commit and the Go version", runVersion},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		return 2
	}
	if args[0] == "--version" || args[0] == "-version" {
		return runVersion(args[1:], stdin, stdout, stderr)
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "newterms: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	return c.run(args[1:], stdin, stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: newterms COMMAND [flags] [args]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'newterms COMMAND -h' for a command's flags.")
}

// keyFlag declares a flag that sets a configuration key: its default (the
// CLI's) and its help come from the key's declaration in internal/config.
func keyFlag(fl *flag.FlagSet, name, key string) *string {
	k, ok := config.Lookup(key)
	if !ok {
		panic("newterms: no configuration key " + key)
	}
	return fl.String(name, k.DefaultFor(config.CLI), k.Text())
}

func runVersion(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintln(stderr, "usage: newterms version")
		return 2
	}
	fmt.Fprintln(stdout, version.Get())
	return 0
}
