package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"

	"github.com/newterms/newterms/internal/alert"
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
	out := bufio.NewWriterSize(stdout, 1<<16)
	dec := cloudtrail.NewDecoder(cloudtrail.Options{MaxRecordSize: cfg.Engine.MaxRecordSize})
	status := 0
	var doc []byte
	var writeErr error
	// One callback for the whole run: the decoder keeps it.
	onEvent := func(ev *cloudtrail.Event) {
		doc = alert.AppendEvent(doc[:0], ev)
		doc = append(doc, '\n')
		if _, err := out.Write(doc); err != nil && writeErr == nil {
			writeErr = err
		}
	}
	rd := reader{maxSize: cfg.Engine.MaxRecordSize, note: func(format string, a ...any) {
		fmt.Fprintf(stderr, "newterms normalize: "+format+"\n", a...)
	}}
	err = rd.readInputs(fl.Args(), stdin, func(u unit) bool {
		res := dec.Decode(u.data, onEvent)
		for _, e := range res.Errors {
			fmt.Fprintf(stderr, "newterms normalize: %s: %v\n", u.where(), e)
			status = 1
		}
		return writeErr == nil && (status == 0 || *keepGoing)
	})
	if err == nil {
		err = writeErr
	}
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		fmt.Fprintf(stderr, "newterms normalize: %v\n", err)
		return 1
	}
	return status
}
