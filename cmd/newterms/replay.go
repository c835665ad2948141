package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/newterms/newterms/internal/config"
	"github.com/newterms/newterms/internal/engine"
	"github.com/newterms/newterms/internal/logx"
	"github.com/newterms/newterms/internal/metrics"
	"github.com/newterms/newterms/internal/seen"
	"github.com/newterms/newterms/internal/version"
)

func runReplay(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("replay", flag.ContinueOnError)
	fl.SetOutput(stderr)
	rulesPath := fl.String("rules", "", "rule files or directories, comma separated (required)")
	asnPath := fl.String("asn-db", "", "ASN database for source.as.*")
	stateDir := fl.String("state", "", "state directory to use and keep (default: a temporary one), or a shared state's server (redis://host:6379/0, rediss://, unix:///path)")
	password := keyFlag(fl, "redis-password", "redis_password")
	prefix := keyFlag(fl, "redis-key-prefix", "redis_key_prefix")
	learnOnly := fl.Bool("learn-only", false, "record tuples and coverage without alerting (backfill a baseline)")
	learning := keyFlag(fl, "learning", "learning")
	output := fl.String("output", "-", "file for the alerts, NDJSON")
	maxSize := keyFlag(fl, "max-record-size", "max_record_size")
	listen := keyFlag(fl, "metrics-listen", "metrics_listen")
	summaryForm := fl.String("summary", "text", "the summary on stderr: text, or json (the counters under their metric names)")
	workers := fl.Int("workers", runtime.GOMAXPROCS(0), "goroutines that decode and match batches in parallel; commits stay one at a time, in input order (default: the CPUs this process may use)")
	fl.Usage = func() {
		fmt.Fprintln(stderr, "usage: newterms replay --rules PATH [--asn-db PATH] [--state DIR|URL [--redis-password P] [--redis-key-prefix P]] [--learn-only] [--learning on|off] [--max-record-size N] [--metrics-listen ADDR] [--summary text|json] [--workers N] [--output FILE] [FILE|DIR|-]...")
		fmt.Fprintln(stderr, "Runs the detection over CloudTrail files (any envelope, .gz, directories) and writes alerts as NDJSON.")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if *rulesPath == "" || (*summaryForm != "text" && *summaryForm != "json") || *workers < 1 {
		fl.Usage()
		return 2
	}
	keys := map[string]string{"rules": *rulesPath, "asn_database": *asnPath, "learning": *learning, "max_record_size": *maxSize, "metrics_listen": *listen}
	maps.Copy(keys, stateKeys(*stateDir, *password, *prefix))
	conf, err := config.FromMap(config.CLI, keys)
	if err != nil {
		fmt.Fprintf(stderr, "newterms replay: %v\n", err)
		return 2
	}
	cfg := conf.Engine
	if cfg.StateDir == "" && cfg.StateBackend != engine.BackendRedis {
		tmp, err := os.MkdirTemp("", "newterms-replay-")
		if err != nil {
			fmt.Fprintf(stderr, "newterms replay: %v\n", err)
			return 1
		}
		defer os.RemoveAll(tmp)
		cfg.StateDir = tmp
	}
	logf := func(_ logx.Level, format string, a ...any) {
		fmt.Fprintf(stderr, "newterms replay: "+format+"\n", a...)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(seen.HeapShare(cfg.CacheSize))
	}
	eng, err := engine.New(cfg, engine.Options{LearnOnly: *learnOnly, Log: logf, ReleaseCMemory: releaseCMemory})
	if err != nil {
		fmt.Fprintf(stderr, "newterms replay: %v\n", err)
		return 1
	}
	defer eng.Close()
	snapshot := func() metrics.Snapshot { return metrics.Snapshot{Engine: eng.Stats(), At: time.Now()} }
	first := snapshot()
	layout := metrics.NewLayout(&first, version.Get())
	if conf.Metrics.Listen != "" {
		srv, err := metrics.Listen(conf.Metrics.Listen)
		if err != nil {
			fmt.Fprintf(stderr, "newterms replay: %v\n", err)
			return 1
		}
		defer srv.Close()
		// A scrape never reads the state once the replay has ended.
		var mu sync.Mutex
		done := false
		last := first
		defer func() { mu.Lock(); done = true; mu.Unlock() }()
		srv.Add(&metrics.Source{Name: "replay", Layout: layout, Snapshot: func() metrics.Snapshot {
			mu.Lock()
			defer mu.Unlock()
			if !done {
				last = snapshot()
			}
			return last
		}})
		fmt.Fprintf(stderr, "newterms replay: metrics on http://%s/metrics\n", srv.Addr())
	}

	out := stdout
	if *output != "-" {
		f, err := os.Create(*output)
		if err != nil {
			fmt.Fprintf(stderr, "newterms replay: %v\n", err)
			return 1
		}
		defer f.Close()
		out = f
	}
	w := bufio.NewWriter(out)
	defer w.Flush()
	bar := progress(stderr)
	rd := &reader{maxSize: cfg.MaxRecordSize, note: func(format string, a ...any) {
		fmt.Fprintf(stderr, "newterms replay: "+format+"\n", a...)
	}}
	var span timeSpan
	shown := 0
	commit := func(b *batch) error {
		span.add(b.prep.First, b.prep.Last)
		res, err := eng.Commit(b.prep)
		if err != nil {
			return err
		}
		for _, e := range res.Errors {
			if shown < 10 {
				fmt.Fprintf(stderr, "newterms replay: %s: %v\n", b.units[e.Record-1].where(), e.Err)
			}
			shown++
		}
		if bar != nil {
			bar.Describe(fmt.Sprintf("replaying, %s read", mebibytes(rd.read.Load())))
			bar.Add(res.Records)
		}
		return drainTo(eng, w)
	}
	p := pipeline{eng: eng, workers: *workers, rd: rd}
	err = p.run(fl.Args(), stdin, commit)
	if err == nil {
		// The input has ended: decide what max_lateness holds back.
		if _, err = eng.Release(); err == nil {
			err = drainTo(eng, w)
		}
	}
	if bar != nil {
		bar.Finish()
		fmt.Fprintln(stderr)
	}
	if shown > 10 {
		fmt.Fprintf(stderr, "newterms replay: ... and %d more bad records\n", shown-10)
	}
	final := snapshot()
	if *summaryForm == "json" {
		m := layout.Map(&final)
		if !span.first.IsZero() {
			m["event_time_first"], m["event_time_last"] = span.first.Format(time.RFC3339Nano), span.last.Format(time.RFC3339Nano)
		}
		b, _ := json.Marshal(m)
		fmt.Fprintf(stderr, "%s\n", b)
	} else {
		summary(stderr, final.Engine, *learnOnly)
		span.print(stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "newterms replay: %v\n", err)
		return 1
	}
	return 0
}

// drainTo writes the outbox's alerts out and deletes them.
func drainTo(eng *engine.Engine, w *bufio.Writer) error {
	alerts, err := eng.State().Outbox(0, 0)
	if err != nil {
		return err
	}
	for _, a := range alerts {
		w.Write(a.Doc)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return eng.State().Delete(alerts)
}

// timeSpan is the event-time range a replay covered.
type timeSpan struct{ first, last time.Time }

func (s *timeSpan) add(first, last time.Time) {
	if first.IsZero() {
		return
	}
	if s.first.IsZero() || first.Before(s.first) {
		s.first = first
	}
	if last.After(s.last) {
		s.last = last
	}
}

func (s *timeSpan) print(w io.Writer) {
	if s.first.IsZero() {
		fmt.Fprintln(w, "event time: no record had one")
		return
	}
	fmt.Fprintf(w, "event time from %s to %s\n", s.first.Format(time.RFC3339Nano), s.last.Format(time.RFC3339Nano))
}

func mebibytes(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// progress is a bar of records and records/s on a terminal (its text also
// says the bytes read), nil otherwise.
func progress(w io.Writer) *progressbar.ProgressBar {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	if st, err := f.Stat(); err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return progressbar.NewOptions64(-1, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("replaying"),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("records"),
		progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionClearOnFinish())
}

func summary(w io.Writer, c engine.Counters, learnOnly bool) {
	fmt.Fprintf(w, "records %d (%d skipped by the prefilter), events %d, alerts %d, suppressed while learning %d",
		c.Records, c.Prefiltered, c.Events, c.Alerts, c.SuppressedLearning)
	if learnOnly {
		fmt.Fprintf(w, ", recorded as baseline %d", c.Backfilled)
	}
	fmt.Fprintf(w, ", tuples checked %d\n", c.TuplesChecked)
	if c.Insights+c.Digests+c.Notifications+c.Control > 0 {
		fmt.Fprintf(w, "not events: insights %d, digests %d, notifications %d, control messages %d\n", c.Insights, c.Digests, c.Notifications, c.Control)
	}
	if len(c.ParseErrors) > 0 {
		b, _ := json.Marshal(c.ParseErrors)
		fmt.Fprintf(w, "bad records by kind: %s\n", b)
	}
	if c.TupleOverflow > 0 || c.NoTime > 0 {
		fmt.Fprintf(w, "tuples over the per-event cap: %d, matching events without a time: %d\n", c.TupleOverflow, c.NoTime)
	}
	for _, m := range c.Matched {
		fmt.Fprintf(w, "  %6d events matched %q\n", m.Events, m.Name)
	}
	fmt.Fprintf(w, "commits %d (mean %s, max %s), cache hits %.1f%% of %d lookups", c.Commits, c.CommitMean, c.CommitMax,
		100*c.CacheHitRatio, c.CacheHits+c.StoreReads)
	if c.StateBytes >= 0 {
		fmt.Fprintf(w, ", state %d bytes", c.StateBytes)
	}
	if c.Held > 0 {
		fmt.Fprintf(w, ", held for ordering %d", c.Held)
	}
	fmt.Fprintln(w)
}
