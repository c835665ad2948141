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
// rule: "doc" from the decoded event, as the engine does once it knows the
// tuple is new; "decode+doc" with the record's decoding, which the engine
// repeats for each alerting event.
func BenchmarkBuild(b *testing.B) {
	rec := fixtureEvents(b)[11]
	r := seedRule(b)
	enr := rules.Enrichment{HasAS: true, ASNumber: 36459, ASOrg: "GitHub, Inc."}
	tuple := []string{"arn:aws:iam::111122223333:role/gha-deploy", "36459"}
	b.Run("doc", func(b *testing.B) {
		d := cloudtrail.NewDecoder(cloudtrail.Options{})
		b.ReportAllocs()
		d.Decode(rec, func(ev *cloudtrail.Event) {
			for b.Loop() {
				if _, err := Build(Input{Rule: r, Tuple: tuple, Event: ev, Enrichment: enr}); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("decode+doc", func(b *testing.B) {
		d := cloudtrail.NewDecoder(cloudtrail.Options{})
		b.ReportAllocs()
		for b.Loop() {
			d.Decode(rec, func(ev *cloudtrail.Event) {
				if _, err := Build(Input{Rule: r, Tuple: tuple, Event: ev, Enrichment: enr}); err != nil {
					b.Fatal(err)
				}
			})
		}
	})
}
