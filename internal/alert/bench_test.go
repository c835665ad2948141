package alert

import (
	"bufio"
	"bytes"
	"os"
	"testing"

	"github.com/newterms/newterms/internal/cloudtrail"
	"github.com/newterms/newterms/internal/rules"
)

// fixtureEvents are the records of testdata/cloudtrail/events.ndjson.
func fixtureEvents(t testing.TB) [][]byte {
	t.Helper()
	data, err := os.ReadFile("../../testdata/cloudtrail/events.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	var recs [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			recs = append(recs, bytes.Clone(line))
		}
	}
	return recs
}

// seedRule is conf/rules' web-identity rule: its pair of fields, its
// metadata and MITRE mapping are what a typical alert carries.
func seedRule(t testing.TB) *rules.Rule {
	t.Helper()
	set, rep, err := rules.Load("../../conf/rules/initial_access_sts_web_identity_new_role_asn.toml")
	if err != nil || len(rep.Failed) > 0 || len(set.Rules()) != 1 {
		t.Fatalf("loading the seed rule: %v %v", err, rep.Failed)
	}
	return set.Rules()[0]
}

// BenchmarkBuild makes the alert document of the 1.5 KB
// AssumeRoleWithWebIdentity record with an AS number and name, for the seed
// rule, from the record's decoding on, as the engine does for each
// alerting event; "decode" is the decoding alone, to subtract. (An event
// keeps the strings its fields compute until the next is decoded, so that
// building from one event again and again would time its growth.)
func BenchmarkBuild(b *testing.B) {
	rec := fixtureEvents(b)[11]
	r := seedRule(b)
	enr := rules.Enrichment{HasAS: true, ASNumber: 36459, ASOrg: "GitHub, Inc."}
	tuple := []string{"arn:aws:iam::111122223333:role/gha-deploy", "36459"}
	var buf []byte
	var ab Builder
	for _, c := range []struct {
		name string
		fn   func(*cloudtrail.Event)
	}{
		{"decode", func(*cloudtrail.Event) {}},
		{"decode+doc", func(ev *cloudtrail.Event) {
			buf = ab.Append(buf[:0], Input{Rule: r, Tuple: tuple, Event: ev, Enrichment: enr})
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			d := cloudtrail.NewDecoder(cloudtrail.Options{})
			b.ReportAllocs()
			for b.Loop() {
				d.Decode(rec, c.fn)
			}
		})
	}
}
