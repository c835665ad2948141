package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/newterms/newterms/internal/synth"
	"github.com/newterms/newterms/internal/synth/synthtest"
)

const (
	roleRule    = "../../conf/rules/initial_access_sts_web_identity_new_role_asn.toml"
	subjectRule = "../../conf/rules/initial_access_sts_web_identity_new_subject_asn.toml"
	testASN     = "../../testdata/asn/GeoLite2-ASN-Test.mmdb"
)

// oracleIDs are the ids of the alerts the two seed rules give for events,
// in stream order (synth.Expected).
func oracleIDs(t *testing.T, events []synth.Event) []string {
	t.Helper()
	_, ids := synthtest.Expected(t, roleRule, subjectRule, events)
	if len(ids) == 0 {
		t.Fatal("the oracle expects no alert: the stream tests nothing")
	}
	return ids
}

func alertIDs(t *testing.T, out string) []string {
	t.Helper()
	var ids []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var doc struct {
			Newterms struct {
				AlertID string `json:"alert_id"`
			}
		}
		if err := json.Unmarshal([]byte(l), &doc); err != nil {
			t.Fatalf("not an alert: %s", l)
		}
		ids = append(ids, doc.Newterms.AlertID)
	}
	return ids
}

// writeS3Tree writes events as CloudTrail writes them to S3, synced to
// disk: gzip files of {"Records":[...]} of 100 events each under
// AWSLogs/<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>/, the regions
// taking turns, so that their time stamps and not their names give the
// stream's order; some files pretty-printed; beside them a digest file and
// an Insights file, which replay leaves out.
func writeS3Tree(t *testing.T, root string, events []synth.Event, start time.Time) {
	t.Helper()
	regions := []string{"us-east-1", "eu-west-1", "ap-south-1"}
	write := func(path string, data []byte) {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(data)
		zw.Close()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i*100 < len(events); i++ {
		var recs [][]byte
		for _, ev := range events[i*100 : min((i+1)*100, len(events))] {
			recs = append(recs, ev.JSON)
		}
		doc := synth.S3Log(recs...)
		if i%4 == 3 {
			var pretty bytes.Buffer
			json.Indent(&pretty, doc, "", "  ")
			doc = pretty.Bytes()
		}
		// Seven hours apart: the files' days change within the stream.
		at := start.Add(time.Duration(i) * 7 * time.Hour)
		region := regions[i%len(regions)]
		dir := filepath.Join(root, "AWSLogs", "111122223333", "CloudTrail", region, at.Format("2006/01/02"))
		write(filepath.Join(dir, fmt.Sprintf("111122223333_CloudTrail_%s_%s_%04x.json.gz", region, at.Format("20060102T1504Z"), 0xffff-i)), doc)
	}
	write(filepath.Join(root, "AWSLogs", "111122223333", "CloudTrail-Digest", "us-east-1", "2026", "03", "01", "111122223333_CloudTrail-Digest_us-east-1_x_us-east-1_20260301T000000Z.json.gz"),
		[]byte(`{"awsAccountId":"111122223333","digestStartTime":"2026-03-01T00:00:00Z","digestEndTime":"2026-03-01T01:00:00Z","logFiles":[]}`))
	write(filepath.Join(root, "AWSLogs", "111122223333", "CloudTrail-Insight", "us-east-1", "2026", "03", "01", "111122223333_CloudTrail-Insight_us-east-1_20260301T0000Z_a.json.gz"),
		[]byte(`{"Records":[{"eventVersion":"1.08","eventType":"AwsCloudTrailInsight","eventTime":"2026-03-01T00:00:00Z","insightDetails":{}}]}`))
}

// A generated stream replayed with one worker and with several, from
// stdin and from CloudTrail's S3 layout on disk: exactly the oracle's
// alerts in every case, the same summary, and the event-time range of the
// stream.
func TestReplayOracle(t *testing.T) {
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	events := synth.Stream(synth.Options{Seed: 7, Start: start, Days: 30, Events: 5000})
	want := oracleIDs(t, events)
	var stdin bytes.Buffer
	first, last := events[0].Time, events[0].Time
	for _, ev := range events {
		stdin.Write(ev.JSON)
		stdin.WriteByte('\n')
		first, last = minTime(first, ev.Time), maxTime(last, ev.Time)
	}
	tree := t.TempDir()
	writeS3Tree(t, tree, events, start)
	span := fmt.Sprintf("event time from %s to %s\n", first.Format(time.RFC3339), last.Format(time.RFC3339))
	// The summary without what timing changes.
	timing := regexp.MustCompile(`commits \d+ \(mean [^,]*, max [^)]*\)|state \d+ bytes`)
	var summaries []string
	for _, c := range []struct {
		name    string
		workers int
		stdin   bool
	}{{"stdin/1", 1, true}, {"stdin/3", 3, true}, {"s3/1", 1, false}, {"s3/3", 3, false}} {
		t.Run(c.name, func(t *testing.T) {
			args := []string{"replay", "--rules", roleRule + "," + subjectRule, "--asn-db", testASN, "--workers", fmt.Sprint(c.workers)}
			in := ""
			if c.stdin {
				in = stdin.String()
			} else {
				args = append(args, tree)
			}
			code, out, errs := runCLI(t, in, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			if got := alertIDs(t, out); !slices.Equal(got, want) {
				t.Errorf("%d alerts, the oracle expects %d", len(got), len(want))
			}
			if !strings.Contains(errs, span) || !strings.Contains(errs, fmt.Sprintf("records %d ", len(events))) {
				t.Errorf("summary lacks %q or the record count:\n%s", span, errs)
			}
			if !c.stdin && (!strings.Contains(errs, "skipped 1 digest files") || !strings.Contains(errs, "skipped 1 Insights files")) {
				t.Errorf("no note of the skipped files:\n%s", errs)
			}
			summaries = append(summaries, timing.ReplaceAllString(errs[strings.Index(errs, "records "):], ""))
		})
	}
	for i, s := range summaries {
		if s != summaries[0] {
			t.Errorf("summary %d differs:\n%s\nfirst:\n%s", i, s, summaries[0])
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// The order of CloudTrail's S3 layout: by the date of the path and the
// minute of the name; files elsewhere first, by name.
func TestLayoutTime(t *testing.T) {
	cases := []struct {
		path string
		want string
	}{
		{"AWSLogs/111122223333/CloudTrail/us-east-1/2026/03/01/111122223333_CloudTrail_us-east-1_20260301T0105Z_abc.json.gz", "2026-03-01T01:05:00Z"},
		{"/x/AWSLogs/o-abc/111122223333/CloudTrail/eu-west-1/2026/12/31/f.json.gz", "2026-12-31T00:00:00Z"},
		// A stamp of another day than the path's is not believed.
		{"AWSLogs/1/CloudTrail/us-east-1/2026/03/01/1_CloudTrail_us-east-1_20260302T0105Z_a.json.gz", "2026-03-01T00:00:00Z"},
		{"AWSLogs/1/CloudTrail/us-east-1/2026/13/01/a.json.gz", "0001-01-01T00:00:00Z"},
		{"logs/2026/03/01/a.json.gz", "0001-01-01T00:00:00Z"},
		{"CloudTrail/a.json", "0001-01-01T00:00:00Z"},
	}
	for _, c := range cases {
		if got := layoutTime(c.path).Format(time.RFC3339); got != c.want {
			t.Errorf("%s: %s, want %s", c.path, got, c.want)
		}
	}
}
