package forward

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/newterms/newterms/internal/forward/forwardtest"
	"github.com/newterms/newterms/internal/seen"
)

// alertDoc is an alert shaped like the engine's (ECS fields, the rule,
// the original event): about 2.4 KB, as measured on CloudTrail alerts.
func alertDoc(i int) []byte {
	original := strings.Repeat(fmt.Sprintf(`{\"eventVersion\":\"1.08\",\"eventID\":\"%08d\"}`, i), 24)
	return fmt.Appendf(nil, `{"@timestamp":"2026-03-01T12:%02d:%02d.000Z","cloud":{"account":{"id":"123456789012"},"provider":"aws","region":"eu-west-1"},`+
		`"event":{"action":"AssumeRole","kind":"alert","outcome":"success","provider":"sts.amazonaws.com","id":"%08d","original":"%s"},`+
		`"source":{"ip":"203.0.113.%d","as":{"number":64500,"organization":{"name":"Example Net"}}},"user":{"name":"user-%d","id":"AIDA%012d"},`+
		`"aws":{"cloudtrail":{"user_identity":{"arn":"arn:aws:iam::123456789012:user/user-%d","type":"IAMUser"}}},`+
		`"newterms":{"alert_id":"a%d","terms":{"user.name":"user-%d","source.as.number":64500},"history_window":"14d","first_seen":"2026-03-01T12:00:00Z",`+
		`"rule":{"id":"r%d","key":"r%d-0123456789abcdef","name":"New source AS for a user","description":"A user acted from an autonomous system not seen for them in the history window.","severity":"medium","risk_score":47,"tags":["Domain: Cloud","Data Source: AWS"],"threat":[]}},`+
		`"message":"user-%d did AssumeRole from AS64500 (Example Net), new for them in 14 days"}`,
		(i/60)%60, i%60, i, original, i%250, i, i, i, i, i, i%3, i%3, i)
}

// fill writes n alerts into a new state's outbox and closes it.
func fill(t testing.TB, n int) (dir string) {
	t.Helper()
	dir = t.TempDir()
	s, closeState := openState(t, dir)
	for i := 0; i < n; {
		batch := s.Begin(false)
		for end := min(i+5000, n); i < end; i++ {
			batch.AddAlert(alertDoc(i))
		}
		if err := batch.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	closeState()
	return dir
}

// openState opens a state; the function returned closes it, at the
// latest when the test ends. Close waits for the files pebble deletes in
// the background: a closed state's directory has its final size.
func openState(t testing.TB, dir string) (*seen.State, func()) {
	t.Helper()
	s, err := seen.Open(seen.Options{Dir: dir, CompactInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	closeState := func() {
		once.Do(func() {
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(closeState)
	return s, closeState
}

// diskSize is the size of a closed state's directory, all of it and its
// tables. The rest is pebble's write-ahead log, whose files it recycles:
// at most a few memtables' worth, whatever the outbox held.
func diskSize(t testing.TB, dir string) (total, tables int64) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		total += fi.Size()
		if strings.HasSuffix(path, ".sst") {
			tables += fi.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return total, tables
}

// BenchmarkDeliver is the cost of one alert from the outbox to a receiver
// over a unix socket, acks included.
func BenchmarkDeliver(b *testing.B) {
	s, _ := openState(b, fill(b, b.N))
	path := filepath.Join(b.TempDir(), "in_forward.sock")
	r, err := forwardtest.Listen("unix", path, forwardtest.Options{Discard: true})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	snd, err := New(s, Options{Address: "unix://" + path})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	n, err := snd.Drain(context.Background())
	if err != nil || n != b.N {
		b.Fatalf("delivered %d of %d: %v", n, b.N, err)
	}
}

// BenchmarkDrainLarge drains an outbox of 200,000 alerts and reports the
// delivery rate over its first and its last tenth (alerts/s: equal when
// the rate does not depend on what was delivered before) and the closed
// state directory's size before and after, all of it and its tables. Run
// it with -benchtime=1x.
func BenchmarkDrainLarge(b *testing.B) {
	const n = 200_000
	for b.Loop() {
		b.StopTimer()
		dir := fill(b, n)
		before, beforeTables := diskSize(b, dir)
		s, closeState := openState(b, dir)
		var mu sync.Mutex
		var start, t10, t90, t100 time.Time
		progress := func(total int) {
			mu.Lock()
			defer mu.Unlock()
			now := time.Now()
			if t10.IsZero() && total >= n/10 {
				t10 = now
			}
			if t90.IsZero() && total >= n-n/10 {
				t90 = now
			}
			if t100.IsZero() && total >= n {
				t100 = now
			}
		}
		path := filepath.Join(b.TempDir(), "in_forward.sock")
		r, err := forwardtest.Listen("unix", path, forwardtest.Options{Discard: true, Progress: progress})
		if err != nil {
			b.Fatal(err)
		}
		snd, err := New(s, Options{Address: "unix://" + path})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start = time.Now()
		got, err := snd.Drain(context.Background())
		b.StopTimer()
		r.Close()
		if err != nil || got != n {
			b.Fatalf("delivered %d of %d: %v", got, n, err)
		}
		closeState()
		after, afterTables := diskSize(b, dir)
		mu.Lock()
		b.ReportMetric(float64(n/10)/t10.Sub(start).Seconds(), "first10%-alerts/s")
		b.ReportMetric(float64(n/10)/t100.Sub(t90).Seconds(), "last10%-alerts/s")
		b.ReportMetric(float64(n)/t100.Sub(start).Seconds(), "alerts/s")
		mu.Unlock()
		b.ReportMetric(float64(before)/(1<<20), "MB-before")
		b.ReportMetric(float64(after)/(1<<20), "MB-after")
		b.ReportMetric(float64(beforeTables)/(1<<20), "MB-tables-before")
		b.ReportMetric(float64(afterTables)/(1<<20), "MB-tables-after")
		b.StartTimer()
	}
}
