package cloudtrail

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/newterms/newterms/internal/testsupport"
)

// Fields of Elastic's expected output that the mapping spec leaves out of
// scope: Elasticsearch-side enrichment (geo, user_agent parsing, ingest
// times), the actor/target entity fields, tags, and the pipeline-version
// drift of cloud.service.name / service.name (docs/cloudtrail-ecs.md, older pipelines).
var outOfScope = []string{
	"source.geo", "user_agent.device", "user_agent.name", "user_agent.os", "user_agent.version",
	"event.created", "event.ingested", "event.original", "tags", "error",
	"actor", "target", "entity", "user.entity", "user.target.entity", "service.entity",
	"host", "related.entity", "cloud.service.name", "service.name",
	"source.as", // filled by enrichment, not by normalization
}

// Fields we add that some expected files predate (docs/cloudtrail-ecs.md, older pipelines) or that
// Elasticsearch sets from the data stream rather than the pipeline.
var ourExtras = []string{"cloud.provider", "event.dataset", "data_stream.dataset"}

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

func TestElasticConformance(t *testing.T) {
	suite := testsupport.Conformance(t, "cloudtrail/elastic-pipeline")
	dir := suite.Shared("fixtures/elastic-cloudtrail")
	inputs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	if len(inputs) == 0 {
		t.Fatal("no pipeline test inputs")
	}
	for _, in := range inputs {
		t.Run(filepath.Base(in), func(t *testing.T) {
			suite.Case(t)
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
				compareDoc(t, filepath.Base(in), roundTrip(t, docs[i]), want.Expected[i])
			}
		})
	}
}

func compareDoc(t *testing.T, file string, got, want map[string]any) {
	t.Helper()
	g, w := map[string]string{}, map[string]string{}
	flatten("", got, g)
	flatten("", want, w)
	for path, wv := range w {
		if covered(path, outOfScope) {
			continue
		}
		gv, ok := g[path]
		switch {
		case !ok:
			t.Errorf("%s: missing, want %s", path, wv)
		case path == "related.user" && file == "test-get-caller-identity-json.log":
			// That expected file is from the intermediate pipeline era,
			// before user.id joined related.user (docs/cloudtrail-ecs.md, older pipelines): a subset.
			if !subset(wv, gv) {
				t.Errorf("%s = %s, want a superset of %s", path, gv, wv)
			}
		case gv != wv:
			t.Errorf("%s = %s, want %s", path, gv, wv)
		}
	}
	for path, gv := range g {
		if file == "test-get-caller-identity-json.log" && path == "event.category" {
			continue // GetCallerIdentity joined the categorization table after that era
		}
		if _, ok := w[path]; !ok && !covered(path, ourExtras) {
			t.Errorf("%s = %s, not in Elastic's output", path, gv)
		}
	}
}

func subset(a, b string) bool {
	var as, bs []string
	_ = json.Unmarshal([]byte(a), &as)
	_ = json.Unmarshal([]byte(b), &bs)
	for _, x := range as {
		if !slices.Contains(bs, x) {
			return false
		}
	}
	return true
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
