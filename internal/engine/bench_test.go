package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/newterms/newterms/internal/seen"
	"github.com/newterms/newterms/internal/synth"
	"github.com/newterms/newterms/internal/testsupport"
)

// writeRules writes n generated rules in the detection-rules layout, in the
// style of Elastic's CloudTrail rules, on actions the stream never has.
func writeRules(t testing.TB, dir string, n int) {
	providers := []string{"iam", "ec2", "s3", "kms", "lambda", "rds", "secretsmanager", "ssm", "cloudtrail", "guardduty", "organizations"}
	for i := range n {
		p := providers[i%len(providers)]
		q := fmt.Sprintf(`event.dataset: "aws.cloudtrail" and event.provider: "%s.amazonaws.com" and event.action: ("Delete%d" or "Put%d") and event.outcome: "success" and not aws.cloudtrail.user_identity.type: "AWSService"`, p, i, i)
		rule := fmt.Sprintf("[metadata]\nmaturity = \"production\"\n[rule]\nname = \"generated %d\"\nrule_id = \"gen-%02d\"\nindex = [\"logs-aws.cloudtrail-*\"]\nlanguage = \"kuery\"\ntype = \"new_terms\"\nseverity = \"low\"\nrisk_score = 21\nquery = '''%s'''\n[rule.new_terms]\nfield = \"new_terms_fields\"\nvalue = [\"aws.cloudtrail.user_identity.arn\"]\n[[rule.new_terms.history_window_start]]\nfield = \"history_window_start\"\nvalue = \"now-7d\"\n", i, i, q)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("gen_%02d.toml", i)), []byte(rule), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// BenchmarkEngine: events per second through Process on one core, with the
// test ASN database and the two seed rules plus 48 others, for a stream in
// which 5% of events match a rule and one in which all do. Batches of 1,000
// records, one commit each.
func BenchmarkEngine(b *testing.B) {
	events := synth.Stream(synth.Options{Seed: 5, Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Days: 20, Events: 40000})
	var match, other [][]byte
	for _, ev := range events {
		if ev.Action == "AssumeRoleWithWebIdentity" && ev.Success {
			match = append(match, ev.JSON)
		} else if ev.Action != "ConsoleLogin" {
			other = append(other, ev.JSON)
		}
	}
	for _, c := range []struct {
		name    string
		percent int
	}{{"5pct-match", 5}, {"100pct-match", 100}} {
		b.Run(c.name, func(b *testing.B) {
			ruleDir := b.TempDir()
			writeRules(b, ruleDir, 48)
			e := newEngine(b, b.TempDir(), false, func(cfg *Config) {
				cfg.Rules = append(cfg.Rules, ruleDir)
			})
			defer e.Close()
			if n := len(e.Rules().Rules()); n != 50 {
				b.Fatalf("%d rules", n)
			}
			batch := make([]Record, 1000)
			mi, oi, n := 0, 0, 0
			b.ReportAllocs()
			for b.Loop() {
				for i := range batch {
					if (n*100/len(batch))%100 < c.percent || c.percent == 100 {
						batch[i] = Record{Data: match[mi%len(match)]}
						mi++
					} else {
						batch[i] = Record{Data: other[oi%len(other)]}
						oi++
					}
					n++
				}
				if _, err := e.Process(batch); err != nil {
					b.Fatal(err)
				}
				if err := e.State().Delete(mustOutbox(b, e)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/event")
		})
	}
}

func mustOutbox(b *testing.B, e *Engine) []seenAlert {
	a, err := e.State().Outbox(0, 0)
	if err != nil {
		b.Fatal(err)
	}
	return a
}

type seenAlert = seen.Alert

// BenchmarkEnginePack: Elastic's CloudTrail pack (shared fixtures) in the
// steady state: the synthetic stream was backfilled (learn-only), so that
// a live engine, learning off, sees it again and alerts are rare. Batches
// of 1,000 records, one commit each. "stream" is the synthetic stream; it
// reports the fractions of its records that pass the prefilter and that
// match a rule, and its alerts per record. "none" is the stream's records
// that pass the prefilter and match no rule: its allocs/op (per batch of
// 1,000) are what such a record costs. cpu-ns/record is the process's CPU
// time a record, the figure to read on a loaded machine.
func BenchmarkEnginePack(b *testing.B) {
	pack := testsupport.Shared(b, "fixtures/elastic-rules")
	events := synth.Stream(synth.Options{Seed: 5, Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Days: 20, Events: 40000})
	stream := make([]Record, len(events))
	for i, ev := range events {
		stream[i] = Record{Data: ev.JSON}
	}
	dir := b.TempDir()
	packEngine := func(learnOnly bool) *Engine {
		return newEngine(b, dir, learnOnly, func(cfg *Config) {
			cfg.Rules, cfg.Learning = []string{pack}, false
		})
	}
	backfill := packEngine(true)
	for batch := range slices.Chunk(stream, 1000) {
		if _, err := backfill.Process(batch); err != nil {
			b.Fatal(err)
		}
	}
	if err := backfill.Close(); err != nil {
		b.Fatal(err)
	}
	e := packEngine(false)
	defer e.Close()
	// Each record alone: whether it passes the prefilter, matches a rule.
	var none []Record
	passed, matched := 0, 0
	for _, r := range stream {
		before := matchedSum(e)
		res, err := e.Process([]Record{r})
		if err != nil {
			b.Fatal(err)
		}
		m := matchedSum(e) > before
		if res.Events > 0 {
			passed++
		}
		if m {
			matched++
		} else if res.Events > 0 {
			none = append(none, r)
		}
	}
	for _, c := range []struct {
		name string
		recs []Record
	}{{"stream", stream}, {"none", none}} {
		b.Run(c.name, func(b *testing.B) {
			if len(c.recs) < 1000 {
				b.Fatalf("%d records", len(c.recs))
			}
			alerts := e.stats.alerts.Load()
			cpu := processCPU(b)
			batch := make([]Record, 1000)
			n := 0
			b.ReportAllocs()
			for b.Loop() {
				for i := range batch {
					batch[i] = c.recs[n%len(c.recs)]
					n++
				}
				if _, err := e.Process(batch); err != nil {
					b.Fatal(err)
				}
				if err := e.State().Delete(mustOutbox(b, e)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/record")
			b.ReportMetric(float64(processCPU(b)-cpu)/float64(n), "cpu-ns/record")
			b.ReportMetric(float64(e.stats.alerts.Load()-alerts)/float64(n), "alerts/record")
			if c.name == "stream" {
				b.ReportMetric(float64(passed)/float64(len(stream)), "passed/record")
				b.ReportMetric(float64(matched)/float64(len(stream)), "matched/record")
			}
		})
	}
}

// processCPU is the CPU time of the whole process so far, garbage
// collection and the state's background work included: on a machine that
// other work shares, a measure that its load inflates far less than the
// wall clock.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// matchedSum is the number of rule matches counted so far.
func matchedSum(e *Engine) int64 {
	var n int64
	for _, m := range e.stats.matched {
		n += m.Load()
	}
	return n
}
