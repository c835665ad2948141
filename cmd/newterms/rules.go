package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/newterms/newterms/internal/asn"
	"github.com/newterms/newterms/internal/cloudtrail"
	"github.com/newterms/newterms/internal/config"
	"github.com/newterms/newterms/internal/engine"
	"github.com/newterms/newterms/internal/prefilter"
	"github.com/newterms/newterms/internal/rules"
)

func runRules(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "check":
			return runRulesCheck(args[1:], stdout, stderr)
		case "test":
			return runRulesTest(args[1:], stdin, stdout, stderr)
		}
	}
	fmt.Fprintln(stderr, "usage: newterms rules check PATH...\n       newterms rules test --rules PATH [--asn-db PATH] [EVENTS...]")
	return 2
}

// runRulesCheck prints the load report; any failed rule is exit status 1.
func runRulesCheck(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(stderr, "usage: newterms rules check PATH...\nLoads rule files (*.toml, directories recursively) and reports what loaded, what was skipped and why, and what failed where.")
		return 2
	}
	set, rep, err := rules.Load(args...)
	if err != nil {
		fmt.Fprintf(stderr, "newterms rules check: %v\n", err)
		return 1
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	fmt.Fprintf(w, "loaded %d, skipped %d, failed %d\n", len(rep.Loaded), len(rep.Skipped), len(rep.Failed))
	unindexed := map[*rules.Rule]bool{}
	for _, r := range set.Unindexed() {
		unindexed[r] = true
	}
	for _, r := range rep.Loaded {
		how := ""
		if unindexed[r] {
			how = "; tested on every event (its query fixes neither event.action nor event.provider)"
		}
		fmt.Fprintf(w, "loaded  %s: %q new (%s) in %s%s\n", r.File, r.Name, strings.Join(r.Fields, ", "), r.WindowText, how)
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "skipped %s: %q: %s\n", s.File, s.Name, s.Reason)
	}
	for _, f := range rep.Failed {
		fmt.Fprintf(w, "failed  %s\n", f.Error())
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "note    %s\n", n)
	}
	if _, pre := prefilter.Build(set); pre.Enabled {
		fmt.Fprintf(w, "prefilter on: %d literals; records holding none are skipped unparsed\n", pre.Literals)
	} else {
		fmt.Fprintf(w, "prefilter off: every record is parsed, because of %s\n", strings.Join(pre.Unfiltered, "; "))
	}
	if len(rep.Failed) > 0 {
		return 1
	}
	return 0
}

// runRulesTest shows, for each event, the rules that match it and the term
// tuples they give, or which field is missing when they give none.
func runRulesTest(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("rules test", flag.ContinueOnError)
	fl.SetOutput(stderr)
	rulesPath := fl.String("rules", "", "rule file or directory")
	asnPath := fl.String("asn-db", "", "ASN database for source.as.* (optional)")
	fl.Usage = func() {
		fmt.Fprintln(stderr, "usage: newterms rules test --rules PATH [--asn-db PATH] [EVENTS...]")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if *rulesPath == "" {
		fl.Usage()
		return 2
	}
	set, rep, err := rules.Load(*rulesPath)
	if err != nil {
		fmt.Fprintf(stderr, "newterms rules test: %v\n", err)
		return 1
	}
	for _, f := range rep.Failed {
		fmt.Fprintf(stderr, "newterms rules test: %s\n", f.Error())
	}
	var db *asn.DB
	if *asnPath != "" {
		if db, err = asn.Open(*asnPath, asn.Options{ReloadInterval: -1}); err != nil {
			fmt.Fprintf(stderr, "newterms rules test: %v\n", err)
			return 1
		}
		defer db.Close()
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	def := config.Default(config.CLI).Engine
	dec := cloudtrail.NewDecoder(cloudtrail.Options{MaxRecordSize: def.MaxRecordSize})
	doc := set.NewDoc()
	status := 0
	rd := reader{maxSize: def.MaxRecordSize}
	err = rd.readInputs(fl.Args(), stdin, func(u unit) bool {
		res := dec.Decode(u.data, func(ev *cloudtrail.Event) {
			doc.Reset(ev, engine.Enrich(db, ev))
			fmt.Fprintf(w, "%s %s %s\n", u.where(), strings.Join(doc.Get("event.action"), ","), ev.ID())
			matched := false
			set.Match(doc, func(r *rules.Rule) {
				matched = true
				fmt.Fprintf(w, "  match %q\n", r.Name)
				n := 0
				overflow := r.Terms(doc, def.MaxTuples, func(tuple []string) {
					n++
					parts := make([]string, len(tuple))
					for i, v := range tuple {
						parts[i] = r.Fields[i] + "=" + v
					}
					fmt.Fprintf(w, "    terms %s\n", strings.Join(parts, "  "))
				})
				if overflow > 0 {
					fmt.Fprintf(w, "    ... %d more tuples over the cap of %d\n", overflow, def.MaxTuples)
				}
				if n == 0 {
					fmt.Fprintf(w, "    no tuple: missing %s\n", strings.Join(r.Missing(doc), ", "))
				}
			})
			if !matched {
				fmt.Fprintln(w, "  no rule matches")
			}
		})
		for _, e := range res.Errors {
			fmt.Fprintf(stderr, "newterms rules test: %s: %v\n", u.where(), e)
			status = 1
		}
		return true
	})
	if err != nil {
		fmt.Fprintf(stderr, "newterms rules test: %v\n", err)
		return 1
	}
	return status
}
