package cloudtrail

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"testing"
)

// ruleFields are the ~8 fields a typical CloudTrail new_terms rule reads.
var ruleFields = []string{
	"event.provider", "event.action", "event.outcome", "aws.cloudtrail.user_identity.type",
	"aws.cloudtrail.resources.arn", "user.id", "source.ip", "cloud.account.id",
}

// BenchmarkNormalize decodes an AssumeRoleWithWebIdentity record (GitHub
// Actions, 1.5 KB; EKS IRSA, 1.9 KB) and answers the fields a rule asks for;
// encoding/json into a struct, the usual alternative, runs beside it.
func BenchmarkNormalize(b *testing.B) {
	recs := readEvents(b)
	for _, c := range []struct {
		name string
		rec  []byte
	}{{"1.5KB", recs[11]}, {"1.9KB", recs[4]}} {
		b.Run(c.name, func(b *testing.B) { benchNormalize(b, c.rec) })
	}
}

func benchNormalize(b *testing.B, rec []byte) {
	b.Run("fastjson-lazy", func(b *testing.B) {
		d := NewDecoder(Options{})
		getters := make([]Getter, len(ruleFields))
		for i, f := range ruleFields {
			getters[i] = Lookup(f)
		}
		vals := make([]Value, 0, 16)
		fn := func(ev *Event) {
			for _, g := range getters {
				vals = g(ev, vals[:0])
			}
		}
		b.SetBytes(int64(len(rec)))
		b.ReportAllocs()
		for b.Loop() {
			d.Decode(rec, fn)
		}
	})
	b.Run("decode-only", func(b *testing.B) {
		d := NewDecoder(Options{})
		b.SetBytes(int64(len(rec)))
		b.ReportAllocs()
		for b.Loop() {
			d.Decode(rec, func(*Event) {})
		}
	})
	b.Run("encoding-json-struct", func(b *testing.B) {
		type record struct {
			EventSource  string
			EventName    string
			ErrorCode    string
			ErrorMessage string
			UserIdentity struct {
				Type        string
				PrincipalID string `json:"principalId"`
				AccountID   string `json:"accountId"`
			}
			Resources []struct {
				ARN string
			}
			SourceIPAddress    string `json:"sourceIPAddress"`
			RecipientAccountID string `json:"recipientAccountId"`
		}
		var sink int
		b.SetBytes(int64(len(rec)))
		b.ReportAllocs()
		for b.Loop() {
			var r record
			if err := json.Unmarshal(rec, &r); err != nil {
				b.Fatal(err)
			}
			outcome := "success"
			if r.ErrorCode != "" || r.ErrorMessage != "" {
				outcome = "failure"
			}
			acct := r.UserIdentity.AccountID
			if acct == "" {
				acct = r.RecipientAccountID
			}
			ip, _ := netip.ParseAddr(r.SourceIPAddress)
			sink += len(r.EventSource) + len(r.EventName) + len(outcome) + len(r.UserIdentity.Type) +
				len(r.Resources) + len(r.UserIdentity.PrincipalID) + ip.BitLen() + len(acct)
		}
		_ = sink
	})
}

// BenchmarkDocument is the cost of a whole ECS document, paid only for
// alerts and the normalize command.
func BenchmarkDocument(b *testing.B) {
	rec := readEvents(b)[4]
	d := NewDecoder(Options{})
	b.ReportAllocs()
	for b.Loop() {
		d.Decode(rec, func(ev *Event) { ev.Document() })
	}
}

// BenchmarkReference is what every other figure is set against, on the same
// 1.5 KB record: reading its bytes once (counting quotes), hot in cache and
// cold (100,000 copies, 150 MB, read in order as a plugin reads its chunks:
// the memory bandwidth), and the usual way to parse it (encoding/json into
// map[string]any).
func BenchmarkReference(b *testing.B) {
	rec := readEvents(b)[11]
	b.Run("bytes-count", func(b *testing.B) {
		b.SetBytes(int64(len(rec)))
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			n += bytes.Count(rec, []byte{'"'})
		}
		_ = n
	})
	b.Run("bytes-count-cold", func(b *testing.B) {
		const copies = 100_000
		stream := bytes.Repeat(rec, copies)
		b.SetBytes(int64(len(stream)))
		n := 0
		for b.Loop() {
			n += bytes.Count(stream, []byte{'"'})
		}
		_ = n
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*copies), "ns/record")
	})
	b.Run("json-map", func(b *testing.B) {
		b.SetBytes(int64(len(rec)))
		b.ReportAllocs()
		for b.Loop() {
			var m map[string]any
			if err := json.Unmarshal(rec, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
