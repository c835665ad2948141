package cloudtrail

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

const eventsFile = "../../testdata/cloudtrail/events.ndjson"

func readEvents(t testing.TB) [][]byte {
	t.Helper()
	data, err := os.ReadFile(eventsFile)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Split(bytes.TrimSpace(data), []byte("\n"))
}

func marshalDocs(t testing.TB, docs []map[string]any) string {
	t.Helper()
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for _, d := range docs {
		if err := enc.Encode(d); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// The synthetic events cover every userIdentity.type of the mapping spec;
// their documents are pinned in a golden file (go test -update rewrites it).
func TestGolden(t *testing.T) {
	var docs []map[string]any
	types := map[string]bool{}
	for i, line := range readEvents(t) {
		got, res := decodeAll(t, line)
		if err := res.Err(); err != nil || res.Events != 1 {
			t.Fatalf("line %d: %+v %v", i+1, res, err)
		}
		docs = append(docs, got...)
		var rec struct{ UserIdentity struct{ Type string } }
		_ = json.Unmarshal(line, &rec)
		types[rec.UserIdentity.Type] = true
	}
	for _, typ := range []string{"IAMUser", "AssumedRole", "Root", "FederatedUser", "WebIdentityUser",
		"SAMLUser", "AWSService", "IdentityCenterUser", "AWSAccount", "Unknown"} {
		if !types[typ] {
			t.Errorf("no synthetic event of identity type %s", typ)
		}
	}
	got := marshalDocs(t, docs)
	const golden = "../../testdata/cloudtrail/events.golden.ndjson"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("documents differ from %s (run go test -update and review the diff):\n%s", golden, firstDiff(got, string(want)))
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return "got:  " + al[i] + "\nwant: " + bl[i]
		}
	}
	return "lengths differ"
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func jsonString(b []byte) string {
	s, _ := json.Marshal(string(b))
	return string(s)
}

func join(recs [][]byte, f func([]byte) string) string {
	parts := make([]string, len(recs))
	for i, r := range recs {
		parts[i] = f(r)
	}
	return strings.Join(parts, ",")
}

func cwl(recs [][]byte) []byte {
	return []byte(`{"messageType":"DATA_MESSAGE","owner":"111122223333","logGroup":"CloudTrail/logs","logStream":"s","subscriptionFilters":["f"],"logEvents":[` +
		join(recs, func(r []byte) string { return `{"id":"1","timestamp":1,"message":` + jsonString(r) + `}` }) + `]}`)
}

func eventBridge(r []byte) string {
	return `{"version":"0","id":"e","detail-type":"AWS API Call via CloudTrail","source":"aws.sts","account":"111122223333","time":"2026-03-01T10:00:00Z","region":"us-east-1","resources":[],"detail":` + string(r) + `}`
}

// Every envelope yields exactly the events of the plain records, in order.
func TestEnvelopes(t *testing.T) {
	recs := readEvents(t)
	var plain []map[string]any
	for _, r := range recs {
		d, _ := decodeAll(t, r)
		plain = append(plain, d...)
	}
	want := marshalDocs(t, plain)
	records := []byte(`{"Records":[` + join(recs, func(r []byte) string { return string(r) }) + `]}`)
	cases := []struct {
		name string
		in   []byte
	}{
		{"records", records},
		{"records gzip", gz(records)},
		{"records gzip base64", []byte(b64(gz(records)))},
		{"array", []byte(`[` + join(recs, func(r []byte) string { return string(r) }) + `]`)},
		{"eventbridge in array", []byte(`[` + join(recs, eventBridge) + `]`)},
		{"cloudwatch logs decoded", cwl(recs)},
		{"cloudwatch logs gzip", gz(cwl(recs))},
		{"cloudwatch logs base64 gzip", []byte(b64(gz(cwl(recs))))},
		{"lambda awslogs", []byte(`{"awslogs":{"data":"` + b64(gz(cwl(recs))) + `"}}`)},
		{"firehose from cloudwatch logs", []byte(`{"requestId":"r","timestamp":1,"records":[{"data":"` + b64(gz(cwl(recs[:4]))) + `"},{"data":"` + b64(gz(cwl(recs[4:]))) + `"}]}`)},
		{"firehose raw", []byte(`{"requestId":"r","timestamp":1,"records":[` + join(recs, func(r []byte) string { return `{"data":"` + b64(r) + `"}` }) + `]}`)},
		{"firehose eventbridge", []byte(`{"records":[` + join(recs, func(r []byte) string { return `{"recordId":"x","data":"` + b64([]byte(eventBridge(r))) + `"}` }) + `]}`)},
		{"lookup-events", []byte(`{"Events":[` + join(recs, func(r []byte) string { return `{"EventId":"x","CloudTrailEvent":` + jsonString(r) + `}` }) + `]}`)},
		{"sns", []byte(`{"Type":"Notification","MessageId":"m","Message":` + jsonString(records) + `}`)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			docs, res := decodeAll(t, c.in)
			if err := res.Err(); err != nil {
				t.Fatal(err)
			}
			if got := marshalDocs(t, docs); got != want {
				t.Errorf("documents differ from the plain records:\n%s", firstDiff(got, want))
			}
		})
	}
}

func TestNotEvents(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want Result
	}{
		{"digest", `{"awsAccountId":"1","digestStartTime":"2026-01-01T00:00:00Z","digestEndTime":"2026-01-01T01:00:00Z","logFiles":[]}`, Result{Digests: 1}},
		{"insight", `{"Records":[{"eventVersion":"1.07","eventTime":"2026-01-01T00:00:00Z","eventType":"AwsCloudTrailInsight","insightDetails":{"state":"Start"}}]}`, Result{Insights: 1}},
		{"s3 notification", `{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}`, Result{Notifications: 1}},
		{"cloudtrail sns pointer", `{"s3Bucket":"b","s3ObjectKey":["AWSLogs/1/CloudTrail/x.json.gz"]}`, Result{Notifications: 1}},
		{"control message", `{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}`, Result{Control: 1}},
		{"empty records", `{"Records":[]}`, Result{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, res := decodeAll(t, []byte(c.in))
			if res.Err() != nil {
				t.Fatal(res.Err())
			}
			res.Errors = nil
			if !reflect.DeepEqual(res, c.want) {
				t.Errorf("got %+v, want %+v", res, c.want)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	good := string(readEvents(t)[0])
	nested := good
	for range maxNesting {
		nested = `{"Type":"Notification","Message":` + jsonString([]byte(nested)) + `}`
	}
	cases := []struct {
		name   string
		in     []byte
		max    int
		events int
		kinds  []ErrorKind
		where  string
	}{
		{"invalid json", []byte(`{"Records":[` + good), 0, 0, []ErrorKind{ErrJSON}, ""},
		{"truncated record", []byte(good[:len(good)/2]), 0, 0, []ErrorKind{ErrJSON}, ""},
		{"empty", []byte("  \n"), 0, 0, []ErrorKind{ErrShape}, ""},
		{"plain text", []byte("hello, world"), 0, 0, []ErrorKind{ErrShape}, ""},
		{"number", []byte(`[42]`), 0, 0, []ErrorKind{ErrShape}, "[0]"},
		{"unknown object", []byte(`{"foo":1,"bar":2}`), 0, 0, []ErrorKind{ErrShape}, ""},
		{"records not array", []byte(`{"Records":{"a":1}}`), 0, 0, []ErrorKind{ErrType}, "Records"},
		{"no log events", []byte(`{"messageType":"DATA_MESSAGE"}`), 0, 0, []ErrorKind{ErrType}, "logEvents"},
		{"message not string", []byte(`{"messageType":"DATA_MESSAGE","logEvents":[{"message":5}]}`), 0, 0, []ErrorKind{ErrType}, "logEvents[0].message"},
		{"unknown message type", []byte(`{"messageType":"OTHER","logEvents":[]}`), 0, 0, []ErrorKind{ErrShape}, "messageType"},
		{"eventbridge not cloudtrail", []byte(`{"detail-type":"EC2 Instance State-change Notification","detail":{"state":"running"}}`), 0, 0, []ErrorKind{ErrShape}, "detail"},
		{"too large", []byte(good), 100, 0, []ErrorKind{ErrTooLarge}, ""},
		{"deeply nested", []byte(strings.Repeat("[", 1000) + strings.Repeat("]", 1000)), 0, 0, []ErrorKind{ErrJSON}, ""},
		{"invalid utf-8", []byte(`{"eventVersion":"1.08","eventName":"A` + "\xff\xfe" + `"}`), 0, 0, []ErrorKind{ErrUTF8}, ""},
		{"bad base64", []byte("QUJD="), 0, 0, []ErrorKind{ErrBase64}, ""},
		{"bad gzip", []byte("\x1f\x8b\x08\x00garbage"), 0, 0, []ErrorKind{ErrGzip}, ""},
		{"gzip bad header", []byte("\x1f\x8b\x07\x00\x00\x00\x00\x00\x00\xff"), 0, 0, []ErrorKind{ErrGzip}, ""},
		{"truncated gzip", gz([]byte(good))[:40], 0, 0, []ErrorKind{ErrGzip}, ""},
		{"gzip bomb", gz(make([]byte, 4<<20)), 1 << 20, 0, []ErrorKind{ErrTooLarge}, ""},
		{"firehose bad data", []byte(`{"records":[{"data":"` + b64([]byte(good)) + `"},{"data":"%%%"},{"data":"` + b64([]byte(good)) + `"}]}`), 0, 2, []ErrorKind{ErrShape}, "records[1].data"},
		{"one bad record", []byte(`{"Records":[` + good + `,5,{"x":1},` + good + `]}`), 0, 2, []ErrorKind{ErrShape, ErrShape}, "Records[1]"},
		{"nested too deep", []byte(nested), 0, 0, []ErrorKind{ErrNesting}, strings.TrimSuffix(strings.Repeat("Message.", maxNesting), ".")},
	}
	// What the error wraps: the refusal of the decoder that read the input.
	causes := map[string]func(error) bool{
		"bad base64":      func(err error) bool { var b base64.CorruptInputError; return errors.As(err, &b) },
		"bad gzip":        func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) },
		"gzip bad header": func(err error) bool { return errors.Is(err, gzip.ErrHeader) },
		"truncated gzip":  func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) },
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := 0
			res := NewDecoder(Options{MaxRecordSize: c.max}).Decode(c.in, func(ev *Event) {
				n++
				ev.Document() // the event is usable
			})
			var kinds []ErrorKind
			for _, e := range res.Errors {
				kinds = append(kinds, e.Kind)
				if e.Error() == "" || e.Msg == "" {
					t.Errorf("error without a message: %#v", e)
				}
			}
			if n != c.events || res.Events != c.events {
				t.Errorf("events = %d (counted %d), want %d", n, res.Events, c.events)
			}
			if !slices.Equal(kinds, c.kinds) {
				t.Errorf("errors = %v, want kinds %v", res.Err(), c.kinds)
			}
			if len(res.Errors) > 0 && res.Errors[0].Where != c.where {
				t.Errorf("first error at %q, want %q", res.Errors[0].Where, c.where)
			}
			// Callers find the kind in the joined errors, never in the text.
			var e *Error
			if !errors.As(res.Err(), &e) || e != res.Errors[0] {
				t.Errorf("errors.As finds %v in %v, want the first error", e, res.Err())
			}
			cause := causes[c.name]
			if cause == nil {
				cause = func(err error) bool { return err == nil }
			}
			if !cause(errors.Unwrap(e)) {
				t.Errorf("%v wraps %#v", e, errors.Unwrap(e))
			}
		})
	}
}

// Which objects are CloudTrail records (docs/envelopes.md), as Elastic's
// pipeline maps them, and what a few shapes that it treats apart give.
func TestRecordShapes(t *testing.T) {
	cases := []struct {
		name   string
		in     string
		want   Result
		fields map[string][]string // on the one event
	}{
		{"no eventVersion, eventTime", `{"eventTime":"2026-03-01T10:00:00Z","eventSource":"sts.amazonaws.com","eventName":"GetCallerIdentity"}`,
			Result{Events: 1}, map[string][]string{"event.action": {"GetCallerIdentity"}, "aws.cloudtrail.event_version": nil, "@timestamp": {"2026-03-01T10:00:00.000Z"}}},
		{"no eventVersion, userIdentity", `{"userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/a"},"eventSource":"iam.amazonaws.com","eventName":"ListUsers","recipientAccountId":"1"}`,
			Result{Events: 1}, map[string][]string{"user.entity.id": {"arn:aws:iam::1:user/a"}, "entity.target.id": {"1"}, "@timestamp": nil}},
		{"no eventVersion in Records", `{"Records":[{"eventTime":"2026-03-01T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject"}]}`, Result{Events: 1}, nil},
		{"no eventVersion in EventBridge", `{"detail-type":"AWS API Call via CloudTrail","detail":{"eventTime":"2026-03-01T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject"}}`, Result{Events: 1}, nil},
		{"userAgent array", `{"eventVersion":"1.08","eventName":"GetObject","eventSource":"s3.amazonaws.com","userAgent":["aws-cli/2.15.0",7,"","Boto3/1.34"]}`,
			Result{Events: 1}, map[string][]string{"user_agent.original": {"aws-cli/2.15.0", "Boto3/1.34"}, "event.kind": {"event"}}},
		{"userAgent number", `{"eventVersion":"1.08","eventName":"GetObject","eventSource":"s3.amazonaws.com","userAgent":7}`,
			Result{Events: 1}, map[string][]string{"user_agent.original": nil}},
		{"s3 notification alone", `{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventTime":"2026-03-01T10:00:00Z","eventName":"ObjectCreated:Put","userIdentity":{"principalId":"AWS:AIDA"},"s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}`,
			Result{Notifications: 1}, nil},
		{"s3 notifications in an array", `[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectRemoved:Delete","s3":{}},{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","eventTime":"2026-03-01T10:00:00Z","s3":{}}]`,
			Result{Notifications: 2}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := map[string][]string{}
			res := NewDecoder(Options{}).Decode([]byte(c.in), func(ev *Event) {
				for f := range c.fields {
					for _, v := range ev.Get(f, nil) {
						got[f] = append(got[f], v.Str)
					}
				}
			})
			if res.Err() != nil {
				t.Fatal(res.Err())
			}
			if !reflect.DeepEqual(res, c.want) {
				t.Errorf("got %+v, want %+v", res, c.want)
			}
			for f, want := range c.fields {
				if !slices.Equal(got[f], want) {
					t.Errorf("%s = %q, want %q", f, got[f], want)
				}
			}
		})
	}
	// What stays no record: eventName and eventSource without eventVersion
	// need eventTime or userIdentity.
	for _, in := range []string{`{"eventName":"GetObject","eventSource":"s3.amazonaws.com"}`, `{"eventName":"GetObject","eventTime":"2026-03-01T10:00:00Z"}`} {
		res := NewDecoder(Options{}).Decode([]byte(in), func(*Event) { t.Errorf("%s: an event", in) })
		if len(res.Errors) != 1 || res.Errors[0].Kind != ErrShape {
			t.Errorf("%s: %+v, want one not_cloudtrail error", in, res)
		}
	}
}
