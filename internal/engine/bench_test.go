package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/newterms/newterms/internal/seen"
	"github.com/newterms/newterms/internal/synth"
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
