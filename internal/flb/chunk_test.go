package flb_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/newterms/newterms/internal/flb"
	"github.com/newterms/newterms/internal/flb/flbtest"
	"github.com/tinylib/msgp/msgp"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 500, time.UTC)

func TestEach(t *testing.T) {
	good := func(v2 bool, msg string) []byte { return flbtest.AppendRecord(nil, v2, t0, [2]string{"log", msg}) }
	intTime := msgp.AppendArrayHeader(nil, 2)
	intTime = msgp.AppendInt64(intTime, t0.Unix())
	intTime = msgp.AppendMapHeader(intTime, 1)
	intTime = msgp.AppendString(intTime, "log")
	intTime = msgp.AppendString(intTime, "int")
	floatTime := msgp.AppendArrayHeader(nil, 2)
	floatTime = msgp.AppendFloat64(floatTime, 1772366400.25)
	floatTime = msgp.AppendMapHeader(floatTime, 0)
	notArray := msgp.AppendString(nil, "hello")
	short := msgp.AppendArrayHeader(nil, 1)
	short = msgp.AppendInt64(short, 1)
	strBody := msgp.AppendArrayHeader(nil, 2)
	strBody = flb.AppendEventTime(strBody, t0)
	strBody = msgp.AppendString(strBody, "not a map")
	badTime := msgp.AppendArrayHeader(nil, 2)
	badTime = msgp.AppendString(badTime, "noon")
	badTime = msgp.AppendMapHeader(badTime, 0)

	cases := []struct {
		name    string
		chunk   []byte
		texts   []string
		bad     int
		undecod bool
	}{
		{"v2", cat(good(true, "a"), good(true, "b")), []string{"a", "b"}, 0, false},
		{"v1", cat(good(false, "a")), []string{"a"}, 0, false},
		{"integer and float times", cat(intTime, floatTime), []string{"int", ""}, 0, false},
		{"group markers", cat(flbtest.AppendGroupMarker(nil, true), good(true, "a"), flbtest.AppendGroupMarker(nil, false)), []string{"a"}, 0, false},
		{"bad records skipped", cat(good(true, "a"), notArray, short, strBody, badTime, good(true, "b")), []string{"a", "b"}, 4, false},
		{"truncated", cat(good(true, "a"), good(true, "b")[:10]), []string{"a"}, 0, true},
		{"garbage", []byte{0xc1, 0xc1, 0xc1}, nil, 0, true},
		{"empty", nil, nil, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var texts []string
			bad := 0
			n, err := flb.Each(c.chunk, func(r flb.Record) {
				txt, _, err := flb.Text(r.Body, []string{"log"})
				if err != nil {
					t.Fatal(err)
				}
				texts = append(texts, string(txt))
				if r.Time.Unix() != t0.Unix() && r.Time.Unix() != 1772366400 {
					t.Errorf("time %v", r.Time)
				}
			}, func(off int, err error) { bad++ })
			if fmt.Sprint(texts) != fmt.Sprint(c.texts) || bad != c.bad || n != len(c.texts) {
				t.Errorf("texts %q (n=%d), bad %d; want %q, %d", texts, n, bad, c.texts, c.bad)
			}
			if (err != nil) != c.undecod || (err != nil && !errors.Is(err, flb.ErrUndecodable)) {
				t.Errorf("err = %v", err)
			}
		})
	}
	// Nanoseconds survive.
	flb.Each(good(true, "x"), func(r flb.Record) {
		if !r.Time.Equal(t0) {
			t.Errorf("time %v, want %v", r.Time, t0)
		}
	}, nil)
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestText(t *testing.T) {
	body := func(kv ...[2]string) []byte {
		b := flbtest.AppendRecord(nil, false, t0, kv...)
		var rec flb.Record
		flb.Each(b, func(r flb.Record) { rec = r }, nil)
		return rec.Body
	}
	cases := []struct {
		body  []byte
		keys  []string
		want  string
		found bool
	}{
		{body([2]string{"message", "m"}, [2]string{"log", "l"}), []string{"log", "message"}, "l", true}, // key order preference
		{body([2]string{"message", "m"}), []string{"log", "message"}, "m", true},
		{body([2]string{"other", "x"}), []string{"log"}, "", false},
		{body(), []string{"log"}, "", false},
	}
	for _, c := range cases {
		got, found, err := flb.Text(c.body, c.keys)
		if err != nil || found != c.found || string(got) != c.want {
			t.Errorf("%q: %q %v %v", c.keys, got, found, err)
		}
	}
	// Non-string values under a key are not text; binary is.
	b := msgp.AppendMapHeader(nil, 2)
	b = msgp.AppendString(b, "log")
	b = msgp.AppendInt64(b, 5)
	b = msgp.AppendString(b, "message")
	b = msgp.AppendBytes(b, []byte("bin"))
	if got, found, _ := flb.Text(b, []string{"log", "message"}); !found || string(got) != "bin" {
		t.Errorf("bin: %q %v", got, found)
	}
	js, err := flb.AppendJSON(nil, b)
	if err != nil || !strings.HasPrefix(string(js), `{"log":5,"message":`) {
		t.Errorf("json %s %v", js, err)
	}
}

func FuzzEach(f *testing.F) {
	f.Add(flbtest.AppendRecord(nil, true, t0, [2]string{"log", `{"eventVersion":"1.08"}`}))
	f.Add(flbtest.AppendRecord(nil, false, t0, [2]string{"message", "x"}, [2]string{"log", "y"}))
	f.Add(flbtest.AppendGroupMarker(nil, true))
	f.Fuzz(func(t *testing.T, chunk []byte) {
		flb.Each(chunk, func(r flb.Record) {
			flb.Text(r.Body, []string{"log", "message"})
			flb.AppendJSON(nil, r.Body)
		}, func(int, error) {})
	})
}

// BenchmarkEach: walking a chunk of 1,000 records whose CloudTrail JSON is
// a `log` string, and finding that string: per record, 0 allocations.
func BenchmarkEach(b *testing.B) {
	rec := `{"eventVersion":"1.08","eventSource":"sts.amazonaws.com","eventName":"AssumeRoleWithWebIdentity","padding":"` + strings.Repeat("x", 1400) + `"}`
	var chunk []byte
	for range 1000 {
		chunk = flbtest.AppendRecord(chunk, true, t0, [2]string{"log", rec})
	}
	keys := []string{"log", "message"}
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	for b.Loop() {
		flb.Each(chunk, func(r flb.Record) { flb.Text(r.Body, keys) }, nil)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/record")
}
