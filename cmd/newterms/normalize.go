package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/newterms/newterms/internal/cloudtrail"
	"github.com/newterms/newterms/internal/config"
)

func runNormalize(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("normalize", flag.ContinueOnError)
	fl.SetOutput(stderr)
	keepGoing := fl.Bool("keep-going", false, "report bad input on stderr and go on")
	maxSize := keyFlag(fl, "max-record-size", "max_record_size")
	fl.Usage = func() {
		fmt.Fprintln(stderr, "usage: newterms normalize [--keep-going] [--max-record-size N] [FILE|DIR|-]...")
		fmt.Fprintln(stderr, "Reads CloudTrail in any envelope (NDJSON, JSON, .gz, base64) and writes one ECS JSON document per event.")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		return 2
	}
	cfg, err := config.FromMap(config.CLI, map[string]string{"max_record_size": *maxSize})
	if err != nil {
		fmt.Fprintf(stderr, "newterms normalize: %v\n", err)
		return 2
	}
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	dec := cloudtrail.NewDecoder(cloudtrail.Options{MaxRecordSize: cfg.Engine.MaxRecordSize})
	status := 0
	var encErr error
	err = readInputs(fl.Args(), stdin, func(u unit) bool {
		res := dec.Decode(u.data, func(ev *cloudtrail.Event) {
			if err := enc.Encode(ev.Document()); err != nil {
				encErr = err
			}
		})
		for _, e := range res.Errors {
			fmt.Fprintf(stderr, "newterms normalize: %s:%d: %v\n", u.name, u.line, e)
			status = 1
		}
		return status == 0 || *keepGoing
	})
	if err == nil {
		err = encErr
	}
	if err != nil {
		fmt.Fprintf(stderr, "newterms normalize: %v\n", err)
		return 1
	}
	return status
}
