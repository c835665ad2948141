// Command fluentbitbench (`make bench-fluentbit`) measures the plugin in
// real Fluent Bit: it writes a synthetic CloudTrail stream (internal/synth)
// to a file, has Fluent Bit read the whole file with tail (exit_on_eof) in
// several pipelines, and prints the CPU seconds of the whole fluent-bit
// process (user + system, from its rusage) for each, beside its ratio to
// the floor: tail alone into null. Pipelines run interleaved, runs times
// each; the table gives each one's median.
//
// The binary is $NEWTERMS_FLUENT_BIT (a file, or the first fluent-bit-*
// of a directory or colon-separated list), else
// fluent-bit/fluent-bit-5.1.1 in the shared test files; without one it
// says so in one line and exits 0. Elastic's pack is
// fixtures/elastic-rules there; without it, its row is left out, said in
// one line.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/newterms/newterms/internal/synth"
	"github.com/newterms/newterms/internal/testsupport"
)

func main() {
	records := flag.Int("records", 200000, "records in the generated stream")
	runs := flag.Int("runs", 3, "runs of each pipeline (interleaved); the table gives the median")
	plugin := flag.String("plugin", "build/out_newterms.so", "the plugin to load")
	seedRules := flag.String("rules", "conf/rules", "the seed rules")
	asnDB := flag.String("asn-db", "testdata/asn/GeoLite2-ASN-Test.mmdb", "the ASN database")
	keep := flag.Bool("keep", false, "keep the work directory (stream, configurations, logs)")
	flag.Parse()
	if err := run(*records, *runs, *plugin, *seedRules, *asnDB, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "bench-fluentbit:", err)
		os.Exit(1)
	}
}

// pipeline is one Fluent Bit configuration to time.
type pipeline struct {
	name  string
	conf  func(w *work) string
	rules string // newterms' rules; "" for a pipeline without newterms
}

// work is one benchmark's directory and settings.
type work struct {
	dir, stream, plugin, asnDB string
	records                    int
	rules                      string
	run                        int
}

func run(records, runs int, plugin, seedRules, asnDB string, keep bool) error {
	bin, where := binary()
	if bin == "" {
		fmt.Printf("bench-fluentbit: skipped: no Fluent Bit binary at %s\n", where)
		return nil
	}
	w := &work{records: records}
	var err error
	for _, p := range []*string{&plugin, &seedRules, &asnDB} {
		if *p, err = filepath.Abs(*p); err != nil {
			return err
		}
		if _, err := os.Stat(*p); err != nil {
			return err
		}
	}
	w.plugin, w.asnDB = plugin, asnDB
	if w.dir, err = os.MkdirTemp("", "newterms-fbbench-"); err != nil {
		return err
	}
	if keep {
		fmt.Println("work directory:", w.dir)
	} else {
		defer os.RemoveAll(w.dir)
	}
	w.stream = filepath.Join(w.dir, "cloudtrail.ndjson")
	size, err := writeStream(w.stream, records)
	if err != nil {
		return err
	}
	pipes := []pipeline{
		{name: "tail (raw line) -> null: the floor", conf: tailNull(false)},
		{name: "tail + json parser -> null", conf: tailNull(true)},
		{name: "tail -> newterms, seed rules (conf/rules), learning off", conf: tailNewterms, rules: seedRules},
	}
	root, err := testsupport.SharedRoot()
	if err != nil {
		return err
	}
	pack := filepath.Join(root, "fixtures", "elastic-rules")
	if _, err := os.Stat(pack); err == nil {
		pipes = append(pipes, pipeline{name: "tail -> newterms, Elastic's CloudTrail pack, learning off", conf: tailNewterms, rules: pack})
	} else {
		fmt.Printf("bench-fluentbit: no Elastic pack row: %v\n", err)
	}
	fmt.Printf("Fluent Bit %s, %d records (%.0f MB) of the synthetic stream, median of %d interleaved runs\n",
		strings.TrimPrefix(filepath.Base(bin), "fluent-bit-"), records, float64(size)/1e6, runs)
	cpu := make([][]float64, len(pipes))
	for r := range runs {
		for i, p := range pipes {
			w.rules, w.run = p.rules, r*len(pipes)+i
			s, err := measure(bin, w, p)
			if err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
			cpu[i] = append(cpu[i], s)
		}
	}
	floor := median(cpu[0])
	fmt.Printf("\n| %-58s | %6s | %8s | %-20s |\n", "pipeline", "CPU-s", "x floor", "runs")
	fmt.Printf("|%s|%s|%s|%s|\n", strings.Repeat("-", 60), strings.Repeat("-", 8), strings.Repeat("-", 10), strings.Repeat("-", 22))
	for i, p := range pipes {
		m := median(cpu[i])
		var each []string
		for _, s := range cpu[i] {
			each = append(each, fmt.Sprintf("%.2f", s))
		}
		fmt.Printf("| %-58s | %6.2f | %8.2f | %-20s |\n", p.name, m, m/floor, strings.Join(each, " "))
	}
	fmt.Printf("\nCPU-s: user + system seconds of the whole fluent-bit process, start to exit;\n%.2f µs a record at the floor.\n", floor/float64(records)*1e6)
	return nil
}

// binary finds Fluent Bit as the e2e tests do (5.1.1 by default), and
// says where it looked.
func binary() (path, where string) {
	paths, where := testsupport.FluentBits(func() string {
		root, err := testsupport.SharedRoot()
		if err != nil {
			return err.Error()
		}
		return filepath.Join(root, "fluent-bit", "fluent-bit-5.1.1")
	})
	if len(paths) == 0 {
		return "", where
	}
	return paths[0], where
}

// writeStream writes n records of the synthetic stream, a line each.
func writeStream(path string, n int) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	var size int64
	for _, ev := range synth.Stream(synth.Options{Seed: 15, Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Days: 30, Events: n}) {
		bw.Write(ev.JSON)
		bw.WriteByte('\n')
		size += int64(len(ev.JSON)) + 1
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return 0, err
	}
	return size, f.Close()
}

// service is the common [SERVICE] section: a grace long enough for the
// plugin to finish the last chunks, so that every record is processed.
func service(w *work, plugins bool) string {
	s := fmt.Sprintf("[SERVICE]\n    Flush 1\n    Grace 120\n    Log_Level info\n    Parsers_File %s\n", filepath.Join(w.dir, "parsers.conf"))
	if plugins {
		s += fmt.Sprintf("    Plugins_File %s\n", filepath.Join(w.dir, "plugins.conf"))
	}
	return s + "\n"
}

// tail is the input: the whole file from its head, exiting at its end.
func tail(w *work, parser bool) string {
	s := fmt.Sprintf("[INPUT]\n    Name tail\n    Path %s\n    Tag cloudtrail\n    Read_from_Head on\n    Exit_On_Eof on\n    Buffer_Chunk_Size 1m\n    Buffer_Max_Size 1m\n", w.stream)
	if parser {
		s += "    Parser json\n"
	}
	return s + "\n"
}

func tailNull(parser bool) func(*work) string {
	return func(w *work) string {
		return service(w, false) + tail(w, parser) + "[OUTPUT]\n    Name null\n    Match *\n"
	}
}

// tailNewterms is the plugin as deployed, learning off on a fresh state:
// its alerts come back through forward and go to null.
func tailNewterms(w *work) string {
	sock := filepath.Join(w.dir, fmt.Sprintf("fw%d.sock", w.run))
	return service(w, true) + tail(w, false) +
		fmt.Sprintf("[INPUT]\n    Name forward\n    Unix_Path %s\n\n", sock) +
		fmt.Sprintf("[OUTPUT]\n    Name newterms\n    Match cloudtrail\n    record_key log\n    rules %s\n    asn_database %s\n    asn_reload_interval off\n    learning off\n    state_dir %s\n    forward_address unix://%s\n    alert_tag newterms.alert\n\n",
			w.rules, w.asnDB, filepath.Join(w.dir, fmt.Sprintf("state%d", w.run)), sock) +
		"[OUTPUT]\n    Name null\n    Match newterms.*\n"
}

// exitLine is the plugin's last word: what it processed.
var exitLine = regexp.MustCompile(`exit: (\d+) records`)

// measure runs one pipeline to the end of the stream and returns the CPU
// seconds of the fluent-bit process.
func measure(bin string, w *work, p pipeline) (float64, error) {
	files := map[string]string{
		"parsers.conf":    "[PARSER]\n    Name json\n    Format json\n",
		"plugins.conf":    fmt.Sprintf("[PLUGINS]\n    Path %s\n", w.plugin),
		"fluent-bit.conf": p.conf(w),
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(w.dir, name), []byte(text), 0o644); err != nil {
			return 0, err
		}
	}
	logPath := filepath.Join(w.dir, fmt.Sprintf("fluent-bit-%d.log", w.run))
	lf, err := os.Create(logPath)
	if err != nil {
		return 0, err
	}
	defer lf.Close()
	cmd := exec.Command(bin, "-c", filepath.Join(w.dir, "fluent-bit.conf"))
	cmd.Dir, cmd.Stdout, cmd.Stderr = w.dir, lf, lf
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("fluent-bit: %w (log %s)", err, logPath)
	}
	cpu := (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	if p.rules == "" {
		return cpu, nil
	}
	// Every record must have reached the plugin: the time is then the
	// whole stream's.
	log, err := os.ReadFile(logPath)
	if err != nil {
		return 0, err
	}
	m := exitLine.FindSubmatch(log)
	if m == nil {
		return 0, errors.New("no exit line from the plugin in " + logPath)
	}
	if n, _ := strconv.Atoi(string(m[1])); n != w.records {
		return 0, fmt.Errorf("the plugin processed %d records of %d (log %s)", n, w.records, logPath)
	}
	return cpu, nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
