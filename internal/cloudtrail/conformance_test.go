package cloudtrail

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/newterms/newterms/internal/testsupport"
)

// Fields of Elastic's expected output that only Elasticsearch sets
// (geo, user_agent parsing, ingest times, the original event), or that
// the pipeline sets only on errors, and source.as, which the engine's
// enrichment adds.
var outOfScope = []string{
	"source.geo", "user_agent.device", "user_agent.name", "user_agent.os", "user_agent.version",
	"event.created", "event.ingested", "event.original", "tags", "error", "source.as",
}

// Fields we add that Elasticsearch sets from the data stream rather than
// the pipeline, or that the transcribed fixtures leave out (their README).
var ourExtras = []string{"event.dataset", "data_stream.dataset", "ecs.version"}

func covered(path string, prefixes []string) bool {
	for _, p := range prefixes {
		if path == p || strings.HasPrefix(path, p+".") {
			return true
		}
	}
	return false
}

// flatten maps each leaf path to its canonical JSON; arrays become sorted
// sets of their elements' JSON, since Elastic's test compares them as sets.
func flatten(prefix string, v any, out map[string]string) {
	switch t := v.(type) {
	case map[string]any:
		for k, c := range t {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flatten(p, c, out)
		}
	case []any:
		elems := make([]string, len(t))
		for i, c := range t {
			b, _ := json.Marshal(c)
			elems[i] = string(b)
		}
		sort.Strings(elems)
		out[prefix] = "[" + strings.Join(elems, ",") + "]"
	default:
		b, _ := json.Marshal(t)
		out[prefix] = string(b)
	}
}

// roundTrip puts a document through JSON so numbers compare alike.
func roundTrip(t *testing.T, doc map[string]any) map[string]any {
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func decodeAll(t *testing.T, data []byte) ([]map[string]any, Result) {
	t.Helper()
	var docs []map[string]any
	res := NewDecoder(Options{}).Decode(data, func(ev *Event) { docs = append(docs, ev.Document()) })
	return docs, res
}

// An era is the integration version an expected file comes from, and so
// how it is compared (docs/cloudtrail-ecs.md, how it is checked).
type era int

const (
	// v890 is the 8.9.0 line the mapping follows: every field equal, and
	// nothing of ours missing from Elastic's document.
	v890 era = iota
	// v900 is the 9.0.0 draft: its documents are turned into 8.9.0's
	// first (to900From890), and each field so changed is an exception.
	v900
	// older versions predate fields the mapping has: compared on the
	// fields they hold, less the differences olderExceptions lists.
	older
)

func (e era) String() string { return [...]string{"8.9.0", "9.0.0 draft", "older"}[e] }

// conformance counts the fields compared over a suite, and the fields an
// exception left out of the comparison, by reason.
type conformance struct {
	mu                       sync.Mutex
	docs, compared, agreeing int
	exceptions               map[string]map[string]int // reason -> field -> documents
}

func (c *conformance) except(reason, field string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.exceptions == nil {
		c.exceptions = map[string]map[string]int{}
	}
	if c.exceptions[reason] == nil {
		c.exceptions[reason] = map[string]int{}
	}
	c.exceptions[reason][field]++
}

func (c *conformance) report(t *testing.T) {
	t.Logf("%d documents; fields agreeing / compared: %d / %d", c.docs, c.agreeing, c.compared)
	for _, r := range slices.Sorted(maps.Keys(c.exceptions)) {
		var fields []string
		for _, f := range slices.Sorted(maps.Keys(c.exceptions[r])) {
			fields = append(fields, fmt.Sprintf("%s (%d)", f, c.exceptions[r][f]))
		}
		t.Logf("exception: %s: %s", r, strings.Join(fields, ", "))
	}
}

// elasticCloudtrailEras are the versions of the expected files in
// fixtures/elastic-cloudtrail (its MANIFEST.tsv).
var elasticCloudtrailEras = map[string]era{
	"test-assume-role-aws-service-json.log":   v890,  // 8149d6c9
	"test-assume-role-email-session-json.log": older, // a fork, 1bc21c5b
	"test-get-caller-identity-json.log":       older, // 01b6652f
	"test-us-gov-arn.log":                     older, // 02fd8215
}

// Elastic's pipeline tests at fixtures/elastic-cloudtrail: every input
// decodes to one event (or digest) a line, and the expected documents
// agree with ours field for field, by their era.
func TestElasticConformance(t *testing.T) {
	suite := testsupport.Conformance(t, "cloudtrail/elastic-pipeline")
	dir := suite.Shared("fixtures/elastic-cloudtrail")
	inputs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	if len(inputs) == 0 {
		t.Fatal("no pipeline test inputs")
	}
	var stats conformance
	defer stats.report(t)
	for _, in := range inputs {
		t.Run(filepath.Base(in), func(t *testing.T) {
			suite.Case(t)
			compareFile(t, &stats, in, filepath.Base(in), elasticCloudtrailEras[filepath.Base(in)])
		})
	}
}

// The expected documents of newer integration versions, at
// fixtures/elastic-cloudtrail-2026 (its README names each folder's).
func TestElasticConformance2026(t *testing.T) {
	suite := testsupport.Conformance(t, "cloudtrail/elastic-pipeline-2026")
	root := suite.Shared("fixtures/elastic-cloudtrail-2026")
	sets := []struct {
		dir string
		era era
	}{
		{"8149d6c9", v890}, {"7d5030ab", v900},
		{"older/0046748f", older}, {"older/18ca47af", older}, {"older/59f3e175", older},
	}
	var stats conformance
	defer stats.report(t)
	for _, set := range sets {
		files, _ := filepath.Glob(filepath.Join(root, set.dir, "*-expected.json"))
		for _, f := range files {
			in := strings.TrimSuffix(f, "-expected.json")
			name := set.dir + "/" + filepath.Base(in)
			t.Run(name, func(t *testing.T) {
				suite.Case(t)
				compareFile(t, &stats, in, name, set.era)
			})
		}
	}
	if stats.docs < 36 {
		t.Errorf("%d expected documents, want at least the 36 of the README's folders", stats.docs)
	}
}

// compareFile decodes the input lines of one pipeline test and compares
// the documents with Elastic's expected ones, if there is such a file.
func compareFile(t *testing.T, stats *conformance, in, name string, e era) {
	data, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	var docs []map[string]any
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		got, res := decodeAll(t, []byte(line))
		if err := res.Err(); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if res.Events+res.Digests != 1 {
			t.Fatalf("line %d: %+v, want one event or digest", i+1, res)
		}
		docs = append(docs, got...)
	}
	exp, err := os.ReadFile(in + "-expected.json")
	if os.IsNotExist(err) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	var want struct{ Expected []map[string]any }
	if err := json.Unmarshal(exp, &want); err != nil {
		t.Fatal(err)
	}
	if len(docs) != len(want.Expected) {
		t.Fatalf("%d documents, want %d", len(docs), len(want.Expected))
	}
	for i := range docs {
		compareDoc(t, stats, name, e, roundTrip(t, docs[i]), want.Expected[i])
	}
}

func compareDoc(t *testing.T, stats *conformance, file string, e era, got, want map[string]any) {
	t.Helper()
	g, w := map[string]string{}, map[string]string{}
	flatten("", got, g)
	flatten("", want, w)
	if e == v900 {
		for field, reason := range to890(w) {
			stats.except(reason, field)
		}
	}
	compared, agreeing := 0, 0
	for _, path := range slices.Sorted(maps.Keys(w)) {
		wv := w[path]
		if covered(path, outOfScope) {
			continue
		}
		gv, ok := g[path]
		if reason := olderExceptions[[2]string{file, path}]; reason != "" {
			if ok && gv == wv {
				t.Errorf("%s: listed as an exception (%s), but agrees", path, reason)
			}
			stats.except(reason, path)
			continue
		}
		compared++
		switch {
		case !ok:
			t.Errorf("%s: missing, want %s", path, wv)
		case gv != wv:
			t.Errorf("%s = %s, want %s", path, gv, wv)
		default:
			agreeing++
		}
	}
	if e != older {
		for path, gv := range g {
			if _, ok := w[path]; !ok && !covered(path, ourExtras) {
				t.Errorf("%s = %s, not in Elastic's output", path, gv)
			}
		}
	}
	stats.mu.Lock()
	stats.docs++
	stats.compared += compared
	stats.agreeing += agreeing
	stats.mu.Unlock()
}

// The reason given for every field to890 changes.
const reason900 = "the 9.0.0 draft (7d5030ab, unreleased) sets user.id to the IAM ARN; 8.9.0, which the mapping follows, keeps principalId and puts the role ARN in user.entity.id"

// to890 turns a 9.0.0 document (flattened) into what 8.9.0 writes for the
// same record, as docs/cloudtrail-ecs.md describes the difference: user.id
// back to the principal id, without the ARN in related.user; the role ARN
// as user.entity.id of an assumed role; and for an AWS service actor,
// service.name without user.id, user.name and the user.email taken from
// it. It returns the fields it changed.
func to890(w map[string]string) map[string]string {
	changed := map[string]string{}
	set := func(field, v string) {
		if w[field] != v {
			changed[field] = reason900
			if v == "" {
				delete(w, field)
			} else {
				w[field] = v
			}
		}
	}
	str := func(field string) string {
		var s string
		_ = json.Unmarshal([]byte(w[field]), &s)
		return s
	}
	arnID := w["user.id"]
	if pid, ok := w["aws.cloudtrail.user_identity.principal_id"]; ok {
		set("user.id", pid)
		set("aws.cloudtrail.user_identity.principal_id", "")
	}
	if arnID != w["user.id"] {
		var users []string
		_ = json.Unmarshal([]byte(w["related.user"]), &users)
		users = slices.DeleteFunc(users, func(u string) bool { return `"`+u+`"` == arnID })
		set("related.user", jsonSet(users))
	}
	typ, issuer := str("aws.cloudtrail.user_identity.type"), str("aws.cloudtrail.user_identity.session_context.session_issuer.arn")
	if typ == "AssumedRole" && issuer != "" && w["user.entity.id"] != "" {
		set("user.entity.id", jsonSet([]string{issuer}))
	}
	svc := ""
	switch invokedBy := str("aws.cloudtrail.user_identity.invoked_by"); {
	case typ == "AWSService":
		svc = invokedBy
	case typ == "AssumedRole" && strings.Contains(issuer, ":role/aws-service-role/"):
		svc = invokedBy
		if svc == "" {
			svc, _, _ = strings.Cut(issuer[strings.Index(issuer, ":role/aws-service-role/")+len(":role/aws-service-role/"):], "/")
		}
	}
	if svc != "" {
		set("service.name", `"`+svc+`"`)
		if w["user.email"] == w["user.name"] {
			set("user.email", "")
		}
		var users []string
		_ = json.Unmarshal([]byte(w["related.user"]), &users)
		users = slices.DeleteFunc(users, func(u string) bool { return `"`+u+`"` == w["user.id"] || `"`+u+`"` == w["user.name"] })
		set("related.user", jsonSet(users))
		set("user.id", "")
		set("user.name", "")
	}
	return changed
}

// jsonSet is flatten's form of a list of strings; "" for an empty one.
func jsonSet(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	out := map[string]string{}
	flatten("x", slices.Collect(func(yield func(any) bool) {
		for _, v := range vs {
			if !yield(v) {
				return
			}
		}
	}), out)
	return out["x"]
}

// Every public AWS sample parses without error, and yields the events it
// holds: one per record, Insights counted apart.
func TestAWSSamples(t *testing.T) {
	suite := testsupport.Conformance(t, "cloudtrail/aws-samples")
	dir := suite.Shared("fixtures/aws-samples")
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			suite.Case(t)
			data, _ := os.ReadFile(f)
			docs, res := decodeAll(t, data)
			if err := res.Err(); err != nil {
				t.Fatal(err)
			}
			if res.Events+res.Insights == 0 {
				t.Fatalf("nothing found: %+v", res)
			}
			for _, d := range docs {
				if d["event"].(map[string]any)["action"] == nil && !strings.Contains(f, "useridentity") {
					t.Errorf("event without event.action: %v", d)
				}
			}
		})
	}
}

// The envelope fixtures are AWS's documentation examples: their inner
// messages are truncated or not CloudTrail, so what is checked is that each
// envelope is unwrapped down to its payload, and the errors name that place.
func TestEnvelopeFixtures(t *testing.T) {
	suite := testsupport.Conformance(t, "cloudtrail/envelopes")
	dir := suite.Shared("fixtures/envelopes")
	cases := []struct {
		file   string
		events int
		where  string // where the first error must point, "" for none
	}{
		{"eventbridge_aws-api-call-via-cloudtrail_cwe-user-guide.json", 1, ""},
		{"cwlogs-subscription-kinesis_decoded_cwl-user-guide.json", 0, "logEvents[0].message"},
		{"cwlogs-subscription-lambda_decoded_cwl-user-guide.json", 0, "logEvents[0].message"},
		{"cwlogs-lambda-awslogs-wrapper_aws-lambda-go.json", 0, "awslogs.data.logEvents[0].message"},
		{"firehose-http-endpoint-request-body_cwlogs-sourced_spec-example.json", 0, "records[0].data.logEvents[0].message"},
		{"firehose-lambda-transform-event_aws-lambda-go.json", 0, "records[0].data"},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			suite.Case(t)
			data, err := os.ReadFile(filepath.Join(dir, c.file))
			if err != nil {
				t.Fatal(err)
			}
			_, res := decodeAll(t, data)
			if res.Events != c.events {
				t.Errorf("events = %d, want %d", res.Events, c.events)
			}
			switch {
			case c.where == "" && len(res.Errors) > 0:
				t.Errorf("unexpected error: %v", res.Err())
			case c.where != "" && (len(res.Errors) == 0 || res.Errors[0].Where != c.where):
				t.Errorf("errors = %v, want the first at %s", res.Err(), c.where)
			}
		})
	}
}

// olderExceptions are the fields of older expected documents that the
// mapping, following 8.9.0, sets differently: by file and field, why.
var olderExceptions = map[[2]string]string{
	{"test-get-caller-identity-json.log", "related.user"}:             predatesUserID,
	{"older/59f3e175/test-console-login-json.log", "related.user"}:    predatesUserID,
	{"older/0046748f/test-console-login-json.log", "related.user"}:    predatesUserID,
	{"older/0046748f/test-console-login-json.log", "related.entity"}:  "mid-2024 (2.2x) derives entities in its legacy entity.yml, from principalId rather than accessKeyId",
	{"test-us-gov-arn.log", "user.entity.id"}:                         "up to 8.8.0 an assumed role's user.entity.id is the session ARN; 8.9.0 writes the role ARN",
	{"older/18ca47af/test-user-authentication.log", "related.entity"}: "18ca47af predates the identity store ARN of an IdentityCenterUser in related.entity",
	{"older/18ca47af/test-user-authentication.log", "related.user"}:   "18ca47af predates user.id from onBehalfOf.userId for an IdentityCenterUser, and so has no such user.id in related.user",
}

const predatesUserID = "pipelines before 5.2.0 leave user.id out of related.user"
