package cloudtrail

import (
	"testing"
)

func FuzzDecode(f *testing.F) {
	for _, r := range readEvents(f) {
		f.Add(r)
		f.Add([]byte(`{"Records":[` + string(r) + `]}`))
		f.Add(gz(cwl([][]byte{r})))
		f.Add([]byte(b64(gz(cwl([][]byte{r})))))
		f.Add([]byte(`{"records":[{"data":"` + b64(r) + `"}]}`))
	}
	f.Add([]byte(`{"detail-type":"AWS API Call via CloudTrail","detail":{"eventVersion":"1"}}`))
	for _, ev := range entityEvents {
		f.Add([]byte(record(identities[1].json, ev.source, ev.name, ev.json)))
	}
	d := NewDecoder(Options{MaxRecordSize: 1 << 16})
	fields := Fields()
	f.Fuzz(func(t *testing.T, data []byte) {
		var vals []Value
		res := d.Decode(data, func(ev *Event) {
			for _, name := range fields {
				vals = ev.Get(name, vals[:0])
			}
			ev.Document()
			ev.Raw()
		})
		for _, e := range res.Errors {
			if e.Kind == "" || e.Msg == "" {
				t.Fatalf("error without kind or message: %#v", e)
			}
		}
	})
}

func FuzzGet(f *testing.F) {
	recs := readEvents(f)
	for i, name := range Fields() {
		f.Add(recs[i%len(recs)], name)
	}
	f.Add(recs[4], "aws.cloudtrail.flattened.response_elements.assumedRoleUser.arn")
	f.Add(recs[0], "aws.cloudtrail.flattened.request_parameters.tags.key")
	f.Add(recs[5], "aws.cloudtrail.resources.type")
	d := NewDecoder(Options{})
	f.Fuzz(func(t *testing.T, rec []byte, field string) {
		d.Decode(rec, func(ev *Event) {
			vals := ev.Get(field, nil)
			for _, v := range vals {
				if v.Kind < String || v.Kind > Bool {
					t.Fatalf("%s: value of kind %d", field, v.Kind)
				}
			}
			if len(vals) > 0 && !Known(field) {
				t.Fatalf("%s: values for an unknown field", field)
			}
		})
	})
}
