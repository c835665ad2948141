package cloudtrail

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
)

func TestGet(t *testing.T) {
	recs := readEvents(t)
	cases := []struct {
		rec   int
		field string
		want  []string
	}{
		{4, "aws.cloudtrail.resources.arn", []string{"arn:aws:iam::111122223333:role/payments-api"}}, // duplicates dropped
		{5, "aws.cloudtrail.resources.type", []string{"AWS::IAM::Role", "AWS::IAM::SAMLProvider"}},
		{8, "aws.cloudtrail.resources.account_id", []string{"111122223333"}},
		{4, "aws.cloudtrail.flattened.request_parameters.roleArn", []string{"arn:aws:iam::111122223333:role/payments-api"}},
		{4, "aws.cloudtrail.flattened.request_parameters.durationSeconds", []string{"3600"}},
		{4, "aws.cloudtrail.flattened.response_elements.assumedRoleUser.arn", []string{"arn:aws:sts::111122223333:assumed-role/payments-api/botocore-session-1709298000"}},
		{0, "aws.cloudtrail.flattened.request_parameters.tags.key", []string{"team"}},
		{0, "aws.cloudtrail.flattened.request_parameters.tags", nil}, // objects are not leaves
		{8, "aws.cloudtrail.flattened.request_parameters.x-amz-acl", nil},
		{4, "source.ip", []string{"198.51.100.7"}},
		{3, "source.ip", []string{"2001:db8::42"}},
		{10, "source.ip", []string{"::ffff:198.51.100.8"}},
		{8, "source.ip", nil},
		{9, "source.address", nil},
		{6, "source.address", []string{"lambda.amazonaws.com"}},
		{4, "user.name", []string{"system:serviceaccount:payments:api"}},
		{1, "user.name", []string{"AdminRole"}},
		{1, "related.user", []string{"carol@example.com", "carol", "bob", "robert", "AROAEXAMPLEADMIN0001:carol@example.com", "AdminRole"}},
		{2, "event.outcome", []string{"success"}},
		{8, "event.outcome", []string{"failure"}},
		{2, "aws.cloudtrail.console_login.additional_eventdata.mfa_used", []string{"true"}},
		{4, "event.category", nil},
		{4, "event.type", []string{"info"}},
		{0, "event.type", []string{"user", "creation"}},
		{4, "cloud.account.id", []string{"111122223333"}},
		{8, "cloud.account.id", []string{"444455556666"}},
		{9, "tls.cipher", nil},
		{8, "tls.version", []string{"1.3"}},
		{8, "tls.version_protocol", nil},
		{7, "user.id", []string{"906754a8-example-frank"}},
		{0, "no.such.field", nil},
		// Object paths: the values of every field below.
		{9, "tls", nil},
		{0, "tls", []string{"TLS_AES_128_GCM_SHA256", "iam.amazonaws.com", "1.3", "tls"}},
		{4, "aws.cloudtrail.flattened.request_parameters", []string{"arn:aws:iam::111122223333:role/payments-api", "botocore-session-1709298000", "3600"}},
		{5, "aws.cloudtrail.resources", []string{"arn:aws:iam::111122223333:role/ReadOnly", "111122223333", "AWS::IAM::Role", "arn:aws:iam::111122223333:saml-provider/Okta", "111122223333", "AWS::IAM::SAMLProvider"}},
		{2, "aws.cloudtrail.flattened", []string{"Success", "https://console.aws.amazon.com/", "No", "Yes"}},
	}
	d := NewDecoder(Options{})
	for _, c := range cases {
		t.Run(c.field, func(t *testing.T) {
			var got []string
			d.Decode(recs[c.rec], func(ev *Event) {
				for _, v := range ev.Get(c.field, nil) {
					got = append(got, v.Str)
				}
			})
			if !slices.Equal(got, c.want) {
				t.Errorf("event %d: %s = %q, want %q", c.rec, c.field, got, c.want)
			}
		})
	}
}

func TestEventBasics(t *testing.T) {
	recs := readEvents(t)
	NewDecoder(Options{}).Decode(recs[9], func(ev *Event) {
		ts, ok := ev.Time()
		if !ok || ts.Format("2006-01-02T15:04:05.000Z07:00") != "2026-03-01T18:00:00.123Z" {
			t.Errorf("Time = %v %v", ts, ok)
		}
		if ev.ID() != "11111111-0000-4000-8000-00000000000a" {
			t.Errorf("ID = %q", ev.ID())
		}
		if string(ev.Raw()) != string(recs[9]) {
			t.Error("Raw is not the record text")
		}
		if _, ok := ev.SourceIP(); ok {
			t.Error("SourceIP for source address -")
		}
	})
	for _, f := range Fields() {
		if !Known(f) {
			t.Errorf("listed field %s is not known", f)
		}
	}
}

func TestJavaNumbers(t *testing.T) {
	cases := map[string]string{
		`{"a":1}`: "{a=1}", `{"a":1.5}`: "{a=1.5}", `{"a":100.0}`: "{a=100.0}",
		`{"a":1e21}`: "{a=1.0E21}", `{"a":1.5e-5}`: "{a=1.5E-5}", `{"a":-0.001}`: "{a=-0.001}",
		`{"a":[1,null,"x",{}],"b":null}`: "{a=[1, x]}",
	}
	for in, want := range cases {
		var p = NewDecoder(Options{})
		v, err := p.levels[0].p.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(appendJava(nil, v)); got != want {
			t.Errorf("%s -> %s, want %s", in, got, want)
		}
	}
}

func TestPlacement(t *testing.T) {
	cases := map[string]Placement{
		"event.action": Whole, "user.id": Whole, "cloud.account.id": Whole, "tls.cipher": Whole,
		"aws.cloudtrail.resources.arn": Whole, "aws.cloudtrail.flattened.request_parameters.roleArn": Whole,
		"related.user": Substring, "tls.version": Substring, "user.email": Substring, "host.target.id": Substring,
		"cloud.service.name": Substring, "service.name": Substring, "related.hosts": Substring,
		"user.entity.id": Whole, "actor.entity.id": Whole, "service.target.entity.id": Whole, "related.ip": Whole,
		"aws.cloudtrail.user_identity.session_context.web_id_federation_data.attributes.sub": Whole,
		"related.entity": Computed, "entity.target.id": Computed, "target.entity.id": Computed, "event.kind": Computed,
		"event.outcome": Computed, "event.type": Computed, "@timestamp": Computed, "source.ip": Computed,
		"aws.cloudtrail.read_only": Computed, "aws.cloudtrail.request_parameters": Computed,
		"aws.cloudtrail.management_event": Computed, "tls.version_protocol": Computed, "no.such.field": Computed,
	}
	for f, want := range cases {
		if got := PlacementOf(f); got != want {
			t.Errorf("PlacementOf(%s) = %s, want %s", f, got, want)
		}
	}

	// What a placement promises holds on every event: a Whole value is a
	// JSON string of the record, quotes included; a Substring value is in
	// one. (Values that JSON would escape are left out: prefilter literals
	// never hold such text.)
	fields := slices.Concat(Fields(), []string{"aws.cloudtrail.flattened.request_parameters.roleArn", "aws.cloudtrail.flattened.request_parameters.tags.key"})
	checked := map[Placement]int{}
	d := NewDecoder(Options{})
	recs := readEvents(t)
	for _, id := range identities {
		recs = append(recs, []byte(record(id.json, "iam", "AttachRolePolicy", `"requestParameters":{"roleName":"r"}`)))
	}
	for _, ev := range entityEvents {
		recs = append(recs, []byte(record(identities[1].json, ev.source, ev.name, ev.json)))
	}
	for i, rec := range recs {
		d.Decode(rec, func(ev *Event) {
			for _, f := range fields {
				p := PlacementOf(f)
				for _, v := range ev.Get(f, nil) {
					quoted, _ := json.Marshal(v.Str)
					if p == Computed || v.Kind != String || string(quoted) != `"`+v.Str+`"` {
						continue
					}
					text := v.Str
					if p == Whole {
						text = string(quoted)
					}
					if !bytes.Contains(rec, []byte(text)) {
						t.Errorf("event %d: %s is %s, but the record lacks %s", i, f, p, text)
					}
					checked[p]++
				}
			}
		})
	}
	if checked[Whole] == 0 || checked[Substring] == 0 {
		t.Errorf("checked %v: the events exercise no placement", checked)
	}
}
