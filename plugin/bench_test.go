package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/newterms/newterms/internal/flb/flbtest"
	"github.com/newterms/newterms/internal/synth"
)

// BenchmarkHarness: records/s through the real plugin in the C harness, one
// flushing thread, from chunk to commit: 100 chunks of 1,000 CloudTrail
// records of about 1.5 KB, 5% (or all) of them matching a rule
// (AssumeRoleWithWebIdentity; the others match no rule of conf/rules),
// with conf/rules loaded, each iteration on a fresh state. ns/record and
// records/s time the plugin's FlushCtx calls, as the harness measures
// them: what Fluent Bit's flushing thread spends in the plugin.
// phase-ns/record is the harness's whole flushing phase, which adds
// reading each chunk file into fresh memory and poisoning it after;
// whole-ns/record adds process start, init and the exit flush. The chunk
// decoding alone is BenchmarkEach in internal/flb.
func BenchmarkHarness(b *testing.B) {
	for _, pct := range []int{5, 100} {
		b.Run(fmt.Sprintf("%dpct-match", pct), func(b *testing.B) { benchHarness(b, pct) })
	}
}

func benchHarness(b *testing.B, pct int) {
	events := synth.Stream(synth.Options{Seed: 11, Start: start, Days: 20, Events: 50000})
	var match, other []string
	pad := func(js []byte) string {
		s := string(js)
		return s[:len(s)-1] + `,"additionalEventData":{"note":"` + strings.Repeat("x", max(0, 1500-len(s)-40)) + `"}}`
	}
	for _, ev := range events {
		if ev.Action == "AssumeRoleWithWebIdentity" && ev.Success {
			match = append(match, pad(ev.JSON))
		} else if !strings.HasPrefix(ev.Action, "AssumeRole") && ev.Action != "ConsoleLogin" {
			// The stream's noise: no rule of conf/rules matches it.
			other = append(other, pad(ev.JSON))
		}
	}
	dir := b.TempDir()
	var chunks []string
	total, bytes := 0, 0
	for c := range 100 {
		var chunk []byte
		for i := range 1000 {
			rec := other[(c*1000+i)%len(other)]
			if pct == 100 || i%20 == 0 {
				rec = match[(c*50+i/20)%len(match)]
			}
			chunk = flbtest.AppendRecord(chunk, true, start, [2]string{"log", rec})
			total++
			bytes += len(rec)
		}
		p := filepath.Join(dir, fmt.Sprintf("chunk-%03d", c))
		os.WriteFile(p, chunk, 0o644)
		chunks = append(chunks, p)
	}
	sock := filepath.Join(dir, "fwd.sock")
	r, err := listenB(sock)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	b.ResetTimer()
	var flushNanos, phaseNanos int64
	for i := 0; b.Loop(); i++ {
		props := filepath.Join(dir, fmt.Sprintf("p%d.props", i))
		os.WriteFile(props, []byte(strings.Join([]string{
			"rules ../conf/rules", "asn_database ../testdata/asn/GeoLite2-ASN-Test.mmdb", "asn_reload_interval off",
			"state_dir " + filepath.Join(dir, fmt.Sprintf("state%d", i)), "forward_address unix://" + sock, "record_key log", "log_level warn",
		}, "\n")), 0o644)
		cmd := newHarnessCmd(append([]string{"-props", props, "-threads", "1"}, chunks...)...)
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
		var n int
		var phase, calls int64
		for _, l := range strings.Split(string(out), "\n") {
			if _, err := fmt.Sscanf(l, "flushed %d chunks in %d ns, %d ns in FlushCtx", &n, &phase, &calls); err == nil {
				phaseNanos += phase
				flushNanos += calls
			}
		}
	}
	b.ReportMetric(float64(total*b.N)/(float64(flushNanos)/1e9), "records/s")
	b.ReportMetric(float64(flushNanos)/float64(total*b.N), "ns/record")
	b.ReportMetric(float64(phaseNanos)/float64(total*b.N), "phase-ns/record")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(total*b.N), "whole-ns/record")
	b.ReportMetric(float64(bytes)/float64(total), "bytes/record")
}
