package synth

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"strings"
)

// The envelopes of the README's "Inputs understood", built around given
// records as AWS delivers them, so that code reading raw inputs (the
// prefilter, replay) can be tested against the decoder on every form.

// Gzip compresses b.
func Gzip(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b) // writes to a bytes.Buffer do not fail
	w.Close()
	return buf.Bytes()
}

// Base64 is b in standard base64, as Firehose and CloudWatch Logs send it.
func Base64(b []byte) []byte { return []byte(base64.StdEncoding.EncodeToString(b)) }

// quote is b as a JSON string. AWS does not escape <, > and &: a \u there
// would make the prefilter pass records for the wrong reason.
func quote(b []byte) string {
	var s strings.Builder
	enc := json.NewEncoder(&s)
	enc.SetEscapeHTML(false)
	enc.Encode(string(b)) // a string always encodes
	return strings.TrimSuffix(s.String(), "\n")
}

func join(items [][]byte, f func([]byte) string) string {
	parts := make([]string, len(items))
	for i, it := range items {
		parts[i] = f(it)
	}
	return strings.Join(parts, ",")
}

// S3Log is a CloudTrail log file.
func S3Log(recs ...[]byte) []byte {
	return []byte(`{"Records":[` + join(recs, func(r []byte) string { return string(r) }) + `]}`)
}

// EventBridge is the event EventBridge delivers for a record.
func EventBridge(rec []byte) []byte {
	return []byte(`{"version":"0","id":"6f7c1b5e-0000-4000-8000-000000000001","detail-type":"AWS API Call via CloudTrail",` +
		`"source":"aws.sts","account":"` + account + `","time":"2026-03-01T10:00:00Z","region":"us-east-1","resources":[],"detail":` + string(rec) + `}`)
}

// CloudWatchLogs is a subscription DATA_MESSAGE whose log events hold msgs.
func CloudWatchLogs(msgs ...[]byte) []byte {
	return []byte(`{"messageType":"DATA_MESSAGE","owner":"` + account + `","logGroup":"aws-cloudtrail-logs","logStream":"` + account + `_CloudTrail_us-east-1",` +
		`"subscriptionFilters":["to-newterms"],"logEvents":[` +
		join(msgs, func(m []byte) string {
			return `{"id":"38000000000000000000000000000000000000000000000000000000","timestamp":1772359200000,"message":` + quote(m) + `}`
		}) + `]}`)
}

// Awslogs is the event of a Lambda subscribed to a log group; data is the
// base64 of the gzip of a CloudWatchLogs payload.
func Awslogs(data []byte) []byte { return []byte(`{"awslogs":{"data":` + quote(data) + `}}`) }

// Firehose is an HTTP endpoint delivery request; each data is the text of
// one records[].data (Firehose sends base64).
func Firehose(data ...[]byte) []byte {
	return []byte(`{"requestId":"ed4acda5-034f-9f42-bba1-f29aea6d7d8f","timestamp":1772359200000,"records":[` +
		join(data, func(d []byte) string { return `{"data":` + quote(d) + `}` }) + `]}`)
}

// FirehoseTransform is the event of a Lambda transforming Firehose records.
func FirehoseTransform(data ...[]byte) []byte {
	return []byte(`{"invocationId":"a7d9f1b2-0000-4000-8000-000000000002","deliveryStreamArn":"arn:aws:firehose:us-east-1:` + account + `:deliverystream/cloudtrail",` +
		`"region":"us-east-1","records":[` +
		join(data, func(d []byte) string {
			return `{"recordId":"49546986683135544286507457936321625675700192471156785154","approximateArrivalTimestamp":1772359200000,"data":` + quote(d) + `}`
		}) + `]}`)
}

// LookupEvents is the output of aws cloudtrail lookup-events.
func LookupEvents(recs ...[]byte) []byte {
	return []byte(`{"Events":[` + join(recs, func(r []byte) string {
		return `{"EventId":"x","EventName":"x","ReadOnly":"false","EventTime":"2026-03-01T10:00:00+00:00","CloudTrailEvent":` + quote(r) + `}`
	}) + `]}`)
}

// SNS is a notification whose Message is msg.
func SNS(msg []byte) []byte {
	return []byte(`{"Type":"Notification","MessageId":"22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324","TopicArn":"arn:aws:sns:us-east-1:` + account + `:cloudtrail",` +
		`"Message":` + quote(msg) + `,"Timestamp":"2026-03-01T10:00:00.000Z","SignatureVersion":"1"}`)
}

// Array is a JSON array of texts.
func Array(items ...[]byte) []byte {
	return []byte(`[` + join(items, func(it []byte) string { return string(it) }) + `]`)
}

// Envelope is one form a record arrives in.
type Envelope struct {
	Name string
	Wrap func(rec []byte) []byte
}

// Envelopes covers every row of the README's input table that carries
// events, each encoded as AWS delivers it.
var Envelopes = []Envelope{
	{"record", func(r []byte) []byte { return r }},
	{"s3", func(r []byte) []byte { return S3Log(r) }},
	{"s3 gzip", func(r []byte) []byte { return Gzip(S3Log(r)) }},
	{"eventbridge", EventBridge},
	{"cwl", func(r []byte) []byte { return CloudWatchLogs(r) }},
	{"cwl gzip", func(r []byte) []byte { return Gzip(CloudWatchLogs(r)) }},
	{"cwl base64 gzip", func(r []byte) []byte { return Base64(Gzip(CloudWatchLogs(r))) }},
	{"cwl lambda", func(r []byte) []byte { return Awslogs(Base64(Gzip(CloudWatchLogs(r)))) }},
	{"firehose base64", func(r []byte) []byte { return Firehose(Base64(r)) }},
	{"firehose base64 gzip", func(r []byte) []byte { return Firehose(Base64(Gzip(r))) }},
	{"firehose cwl", func(r []byte) []byte { return Firehose(Base64(Gzip(CloudWatchLogs(r)))) }},
	{"firehose eventbridge", func(r []byte) []byte { return Firehose(Base64(EventBridge(r))) }},
	{"firehose transform base64", func(r []byte) []byte { return FirehoseTransform(Base64(r)) }},
	{"firehose transform cwl", func(r []byte) []byte { return FirehoseTransform(Base64(Gzip(CloudWatchLogs(r)))) }},
	{"lookup-events", func(r []byte) []byte { return LookupEvents(r) }},
	{"sns", SNS},
	{"sns eventbridge", func(r []byte) []byte { return SNS(EventBridge(r)) }},
	{"array eventbridge", func(r []byte) []byte { return Array(EventBridge(r)) }},
	{"array firehose", func(r []byte) []byte { return Array(Firehose(Base64(r))) }},
}
