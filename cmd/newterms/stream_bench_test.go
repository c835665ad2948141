package main

import (
	"bytes"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/newterms/newterms/internal/synth"
	"github.com/newterms/newterms/internal/testsupport"
)

// synthStream is a generated CloudTrail stream of n distinct records as
// NDJSON (synth's mix: web identities, sign-ins, service roles, API noise;
// some 850 bytes a record).
func synthStream(n int) []byte {
	var b bytes.Buffer
	for _, ev := range synth.Stream(synth.Options{Seed: 15, Start: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), Days: 30, Events: n}) {
		b.Write(ev.JSON)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

var benchStream = sync.OnceValue(func() []byte { return synthStream(100_000) })

// BenchmarkReplay runs the replay command, as the binary does, over a
// generated stream of 100,000 records on stdin, into a new temporary state,
// with Elastic's CloudTrail rules (skips without the shared files); one op
// is the whole stream, start-up included. learn-only is a backfill;
// alerting, the same stream with alerts (every tuple is new to the state).
// The figures are records: ns/record of wall time and records/s.
// Workers are GOMAXPROCS (-cpu), so that -cpu 1 is one core.
func BenchmarkReplay(b *testing.B) {
	pack := testsupport.Shared(b, "fixtures/elastic-rules")
	stream := benchStream()
	records := bytes.Count(stream, []byte("\n"))
	for _, c := range []struct {
		name string
		args []string
	}{
		{"learn-only-pack", []string{"--learn-only"}},
		{"alerting-pack", nil},
	} {
		b.Run(c.name, func(b *testing.B) {
			args := append([]string{"replay", "--rules", pack, "--output", "/dev/null"}, c.args...)
			b.SetBytes(int64(len(stream)))
			for b.Loop() {
				var errb strings.Builder
				if code := run(args, bytes.NewReader(stream), io.Discard, &errb); code != 0 {
					b.Fatalf("exit %d: %s", code, errb.String())
				}
			}
			perRecord := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(records)
			b.ReportMetric(perRecord, "ns/record")
			b.ReportMetric(1e9/perRecord, "records/s")
		})
	}
}

// BenchmarkNormalize runs the normalize command over the same stream: one
// goroutine, so its ns/record is the cost of a record on one core.
func BenchmarkNormalize(b *testing.B) {
	stream := benchStream()
	records := bytes.Count(stream, []byte("\n"))
	b.SetBytes(int64(len(stream)))
	for b.Loop() {
		var errb strings.Builder
		if code := run([]string{"normalize"}, bytes.NewReader(stream), io.Discard, &errb); code != 0 {
			b.Fatalf("exit %d: %s", code, errb.String())
		}
	}
	perRecord := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(records)
	b.ReportMetric(perRecord, "ns/record")
	b.ReportMetric(1e9/perRecord, "records/s")
}
