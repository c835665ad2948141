package cloudtrail

import "testing"

// A Decoder reused across inputs (the engine keeps one per worker) opens
// every input as a fresh one would: base64 decoded at one depth for one
// input does not make a base64 string at that depth of the next one look
// like base64 decoded twice in a row.
func TestDecoderReuse(t *testing.T) {
	rec := readEvents(t)[0]
	firehose := []byte(`{"records":[{"data":"` + b64(rec) + `"}]}`)
	sns := []byte(`{"Type":"Notification","Message":"` + b64(gz(rec)) + `"}`)
	cases := []struct {
		name   string
		inputs [][]byte
	}{
		{"base64 input, then firehose", [][]byte{[]byte(b64(gz(cwl([][]byte{rec})))), firehose}},
		{"base64 input, then sns", [][]byte{[]byte(b64(rec)), sns}},
		{"firehose in firehose, then cloudwatch logs in firehose", [][]byte{
			[]byte(`{"records":[{"data":"` + b64([]byte(`{"records":[{"data":"`+b64(rec)+`"}]}`)) + `"}]}`),
			[]byte(`{"records":[{"data":"` + b64(cwl([][]byte{firehose})) + `"}]}`),
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := NewDecoder(Options{})
			for i, in := range c.inputs {
				if res := d.Decode(in, func(*Event) {}); res.Events != 1 || res.Err() != nil {
					t.Errorf("input %d: %d events, %v", i, res.Events, res.Err())
				}
			}
		})
	}
}
