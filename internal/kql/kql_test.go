package kql

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// doc is a document for tests: field name -> values.
type doc map[string][]Value

func s(v ...string) []Value {
	out := make([]Value, len(v))
	for i, x := range v {
		out[i] = StringValue(x)
	}
	return out
}

func num(f float64) []Value {
	return []Value{{Kind: Number, Str: strconv.FormatFloat(f, 'f', -1, 64), Num: f}}
}

func boolean(b bool) []Value {
	return []Value{{Kind: Bool, Str: strconv.FormatBool(b)}}
}

// docA is a successful AssumeRoleWithWebIdentity from AWS address space.
var docA = doc{
	"event.action":                      s("AssumeRoleWithWebIdentity"),
	"event.provider":                    s("sts.amazonaws.com"),
	"event.outcome":                     s("success"),
	"event.dataset":                     s("aws.cloudtrail"),
	"event.type":                        s("info"),
	"user.name":                         s("system:serviceaccount:payments:api"),
	"user.id":                           s("AROAEXAMPLE:i-0abc123"),
	"aws.cloudtrail.resources.arn":      s("arn:aws:iam::111122223333:role/payments-api", "arn:aws:iam::111122223333:saml-provider/Okta"),
	"aws.cloudtrail.request_parameters": s("{roleArn=arn:aws:iam::111122223333:role/payments-api, roleSessionName=botocore-session-1, durationSeconds=3600}"),
	"aws.cloudtrail.flattened.request_parameters.durationSeconds": num(3600),
	"source.ip":                   s("198.51.100.7"),
	"source.address":              s("198.51.100.7"),
	"source.as.number":            num(16509),
	"source.as.organization.name": s("Amazon.com, Inc."),
	"aws.cloudtrail.read_only":    boolean(false),
	"@timestamp":                  s("2026-03-01T13:00:00.000Z"),
	"user_agent.original":         s("aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64 prompt/off"),
	"cloud.account.id":            s("111122223333"),
	"tags":                        s("a:b", "x(y)", "star*lit", "q?mark", "with space", "Or", `back\slash`, `quote"d`, "héllo", "  padded", `C:\Windows\System32`, "cannot", "and", `\u12`),
	// A number beyond float64's 53 bits, as a flattened (keyword) leaf and as a long.
	"aws.cloudtrail.flattened.request_parameters.big": {{Kind: Number, Str: "9007199254740993", Num: 9007199254740993}},
	"test.long": {{Kind: Number, Str: "9007199254740993", Num: 9007199254740993}},
}

// docB is a failed GetCallerIdentity over IPv6 with no resources and no ASN.
var docB = doc{
	"event.action":              s("GetCallerIdentity"),
	"event.provider":            s("sts.amazonaws.com"),
	"event.outcome":             s("failure"),
	"event.dataset":             s("aws.cloudtrail"),
	"aws.cloudtrail.error_code": s("AccessDenied"),
	"user.name":                 s("alice"),
	"source.ip":                 s("2001:db8::42"),
	"source.address":            s("2001:db8::42"),
	"aws.cloudtrail.read_only":  boolean(true),
	"@timestamp":                s("2026-02-01T00:00:00Z"),
	"cloud.account.id":          s("111122223333"),
}

var types = map[string]FieldType{
	"test.long":                Long,
	"source.ip":                IP,
	"source.as.number":         Long,
	"aws.cloudtrail.read_only": Boolean,
	"@timestamp":               Date,
	"aws.cloudtrail.flattened.request_parameters.durationSeconds": Keyword,
}

// known lists the fields the test resolver knows; others compile as missing.
var known = func() map[string]bool {
	k := map[string]bool{}
	for _, d := range []doc{docA, docB} {
		for f := range d {
			k[f] = true
		}
	}
	k["user.email"] = true
	return k
}()

// testSource resolves field names to ids in order of first use.
type testSource struct {
	names []string
	d     doc
}

// isObject: a path with known fields below it, as an object in a mapping.
func isObject(field string) bool {
	for f := range known {
		if strings.HasPrefix(f, field+".") {
			return true
		}
	}
	return false
}

func (ts *testSource) resolve(field string) (int, FieldType, bool) {
	typ, ok := types[field], known[field]
	if isObject(field) {
		typ, ok = Object, true
	}
	for i, n := range ts.names {
		if n == field {
			return i, typ, ok
		}
	}
	ts.names = append(ts.names, field)
	return len(ts.names) - 1, typ, ok
}

// Values serves an object path with the values of every field below it,
// as the resolver's contract for Object fields asks.
func (ts *testSource) Values(id int) []Value {
	name := ts.names[id]
	if !isObject(name) {
		return ts.d[name]
	}
	var out []Value
	for f, vs := range ts.d {
		if strings.HasPrefix(f, name+".") {
			out = append(out, vs...)
		}
	}
	return out
}

func eval(t *testing.T, q string, d doc) (bool, error) {
	t.Helper()
	ts := &testSource{}
	c, err := Compile(q, ts.resolve)
	if err != nil {
		return false, err
	}
	ts.d = d
	return c.Match(ts), nil
}

// The conformance table: Kibana's KQL as its grammar (kbn-es-query
// grammar.peggy) parses it and Elasticsearch evaluates it, one case a row;
// err names the error of a query Kibana rejects or newterms does not run.
func TestConformance(t *testing.T) {
	cases := []struct {
		q    string
		d    doc
		want bool
		err  string
	}{
		// exact matches, bare words
		{`event.action: AssumeRoleWithWebIdentity`, docA, true, ""},
		{`event.action:AssumeRoleWithWebIdentity`, docA, true, ""},
		{`event.action : AssumeRoleWithWebIdentity`, docA, true, ""},
		{`event.action: AssumeRole`, docA, false, ""},
		{`event.action: assumerolewithwebidentity`, docA, false, ""}, // case-sensitive
		{`event.action: GetCallerIdentity`, docB, true, ""},
		{`event.provider: sts.amazonaws.com`, docA, true, ""},
		{`event.provider: sts.amazonaws`, docA, false, ""}, // exact, not prefix
		{`event.provider: amazonaws.com`, docA, false, ""},
		{`user.name: system\:serviceaccount\:payments\:api`, docA, true, ""},
		{`cloud.account.id: 111122223333`, docA, true, ""}, // number literal on a keyword holding digits
		{`cloud.account.id: 111122223334`, docA, false, ""},
		// quoted strings
		{`event.action: "AssumeRoleWithWebIdentity"`, docA, true, ""},
		{`event.action: "AssumeRole"`, docA, false, ""},
		{`user.name: "system:serviceaccount:payments:api"`, docA, true, ""},
		{`source.as.organization.name: "Amazon.com, Inc."`, docA, true, ""},
		{`source.as.organization.name: "Amazon.com"`, docA, false, ""},
		{`tags: "star*lit"`, docA, true, ""},    // quoted * is literal
		{`tags: "star*"`, docA, false, ""},      // and so does not wildcard
		{`tags: "quote\"d"`, docA, true, ""},    // escaped quote
		{`tags: "back\\slash"`, docA, true, ""}, // escaped backslash
		{`tags: "h\u00e9llo"`, docA, true, ""},  // unicode escape
		{`tags: "héllo"`, docA, true, ""},       // UTF-8
		{`tags: "with space"`, docA, true, ""},  //
		{`tags: "  padded"`, docA, true, ""},    // quoted keeps spaces
		{`tags: "x(y)"`, docA, true, ""},        // specials are plain in quotes
		{`tags: "a:b"`, docA, true, ""},         //
		{`event.action: ""`, docA, false, ""},   // empty string
		{`event.action: "assumerolewithwebidentity"`, docA, false, ""},
		// bare values with escapes and spaces
		{`tags: a\:b`, docA, true, ""},
		{`tags: x\(y\)`, docA, true, ""},
		{`tags: star\*lit`, docA, true, ""}, // escaped * is literal
		{`tags: back\\slash`, docA, true, ""},
		{`tags: quote\"d`, docA, true, ""},
		{`tags: with space`, docA, true, ""},   // bare words joined
		{`tags: with  space`, docA, false, ""}, // whitespace kept as written
		{`tags: \Or`, docA, true, ""},          // escaped keyword
		{`tags: q?mark`, docA, true, ""},       // ? is literal
		{`tags: q?ma?k`, docA, false, ""},      // ? is not a wildcard
		{`tags: h\u00e9llo`, docA, true, ""},
		// wildcards
		{`event.action: AssumeRole*`, docA, true, ""},
		{`event.action: *WebIdentity`, docA, true, ""},
		{`event.action: *Role*`, docA, true, ""},
		{`event.action: Assume*Identity`, docA, true, ""},
		{`event.action: A*R*W*I*`, docA, true, ""},
		{`event.action: *Role*Web*Id*ty`, docA, true, ""},
		{`event.action: Assume*Saml`, docA, false, ""},
		{`event.action: *SAML*`, docA, false, ""},
		{`event.action: assume*`, docA, false, ""},                   // case-sensitive wildcards
		{`event.action: AssumeRoleWithWebIdentity*`, docA, true, ""}, // * matches empty
		{`event.action: *AssumeRoleWithWebIdentity`, docA, true, ""},
		{`event.action: **`, docA, true, ""},
		{`event.action: Get*`, docB, true, ""},
		{`user.name: system\:serviceaccount\:*`, docA, true, ""},
		{`user.name: system\:serviceaccount\:kube-system\:*`, docA, false, ""},
		{`tags: star*`, docA, true, ""}, // the wildcard also matches "star*lit"
		{`tags: *\**`, docA, true, ""},  // contains a literal *
		{`event.action: *\**`, docA, false, ""},
		{`aws.cloudtrail.request_parameters: *roleArn=arn\:aws\:iam\:\:111122223333\:role/payments-api*`, docA, true, ""},
		{`aws.cloudtrail.request_parameters: (*roleSessionName* and *durationSeconds=3600*)`, docA, true, ""},
		{`aws.cloudtrail.request_parameters: (*containerOverrides* and *command*)`, docA, false, ""},
		{`user_agent.original: *aws-cli*`, docA, true, ""},
		{`user_agent.original: (*Terraform* or *terraform* or *pulumi*)`, docA, false, ""},
		{`user_agent.original: aws-cli/2.15.0 Python*`, docA, true, ""}, // spaces and wildcard
		{`event.action: AssumeRole?WithWebIdentity`, docA, false, ""},
		// exists
		{`event.action: *`, docA, true, ""},
		{`aws.cloudtrail.error_code: *`, docA, false, ""},
		{`aws.cloudtrail.error_code: *`, docB, true, ""},
		{`not aws.cloudtrail.error_code: *`, docA, true, ""},
		{`not aws.cloudtrail.error_code: *`, docB, false, ""},
		{`aws.cloudtrail.resources.arn: *`, docB, false, ""},
		{`source.as.number: *`, docA, true, ""},
		{`source.as.number: *`, docB, false, ""},
		{`source.ip: *`, docB, true, ""},
		{`never.present: *`, docA, false, ""},
		{`not never.present: *`, docA, true, ""},
		// multi-valued fields: any value
		{`aws.cloudtrail.resources.arn: "arn:aws:iam::111122223333:role/payments-api"`, docA, true, ""},
		{`aws.cloudtrail.resources.arn: "arn:aws:iam::111122223333:saml-provider/Okta"`, docA, true, ""},
		{`aws.cloudtrail.resources.arn: *saml-provider*`, docA, true, ""},
		{`aws.cloudtrail.resources.arn: *\:user/*`, docA, false, ""},
		{`aws.cloudtrail.resources.arn: (*role/* and *saml-provider/*)`, docA, true, ""}, // different values may satisfy each
		{`aws.cloudtrail.resources.arn: (*role/* and not *saml-provider/*)`, docA, false, ""},
		{`not aws.cloudtrail.resources.arn: *saml-provider*`, docA, false, ""},
		{`tags: "Or"`, docA, true, ""},
		{`tags: (nope or "with space")`, docA, true, ""},
		// not and missing fields
		{`not event.action: AssumeRole`, docA, true, ""},
		{`not event.action: AssumeRoleWithWebIdentity`, docA, false, ""},
		{`not source.as.organization.name: Amazon*`, docA, false, ""},
		{`not source.as.organization.name: Amazon*`, docB, true, ""}, // missing: not x holds
		{`not user.email: *`, docA, true, ""},
		{`not user.email: "someone@example.com"`, docA, true, ""},

		{`NOT event.action: AssumeRole`, docA, true, ""}, // keywords are case-insensitive
		{`Not event.action: AssumeRole`, docA, true, ""},
		{`not (event.action: AssumeRole or event.action: GetCallerIdentity)`, docA, true, ""},
		{`not (event.action: AssumeRole or event.action: GetCallerIdentity)`, docB, false, ""},
		// value lists
		{`event.action: (AssumeRole or AssumeRoleWithSAML or AssumeRoleWithWebIdentity)`, docA, true, ""},
		{`event.action: (AssumeRole or AssumeRoleWithSAML)`, docA, false, ""},
		{`event.action: ("AssumeRole" or "AssumeRoleWithWebIdentity")`, docA, true, ""},
		{`event.action: (AssumeRole OR AssumeRoleWithWebIdentity)`, docA, true, ""},
		{`event.action:(AssumeRole or AssumeRoleWithWebIdentity)`, docA, true, ""},
		{`event.action: ( AssumeRole or AssumeRoleWithWebIdentity )`, docA, true, ""},
		{`event.action: (Assume* and *Web*)`, docA, true, ""},
		{`event.action: (Assume* and not *Web*)`, docA, false, ""},
		{`event.action: (not AssumeRole)`, docA, true, ""},
		{`event.action: (not AssumeRole)`, doc{}, true, ""}, // missing field
		{`event.action: ((AssumeRole or GetCallerIdentity) or AssumeRoleWithWebIdentity)`, docA, true, ""},
		{`event.action: ((AssumeRole or GetCallerIdentity) and not AssumeRole)`, docB, true, ""},
		{`source.as.organization.name: (* and not (Amazon* or Google*))`, docA, false, ""},
		{`source.as.organization.name: (* and not (Amazon* or Google*))`, docB, false, ""}, // no org: * fails
		{`source.as.organization.name: (* and not (Google* or Microsoft*))`, docA, true, ""},
		{`event.outcome: (success or failure)`, docB, true, ""},
		{`event.action: (GetCallerIdentity)`, docB, true, ""},
		{`user.name: (alice or bob) and event.outcome: failure`, docB, true, ""},
		// boolean operators, precedence, parentheses
		{`event.action: AssumeRoleWithWebIdentity and event.outcome: success`, docA, true, ""},
		{`event.action: AssumeRoleWithWebIdentity and event.outcome: failure`, docA, false, ""},
		{`event.action: AssumeRole or event.outcome: success`, docA, true, ""},
		{`event.action: AssumeRole or event.outcome: failure`, docA, false, ""},
		{`event.action: AssumeRole or event.action: AssumeRoleWithWebIdentity and event.outcome: failure`, docA, false, ""}, // and binds tighter
		{`(event.action: AssumeRole or event.action: AssumeRoleWithWebIdentity) and event.outcome: success`, docA, true, ""},
		{`event.outcome: success and event.action: AssumeRole or event.action: AssumeRoleWithWebIdentity`, docA, true, ""},
		{`event.outcome: failure and (event.action: AssumeRole or event.action: AssumeRoleWithWebIdentity)`, docA, false, ""},
		{`not event.outcome: failure and event.provider: sts.amazonaws.com`, docA, true, ""}, // not binds tightest
		{`not (event.outcome: success and event.provider: sts.amazonaws.com)`, docA, false, ""},
		{`event.dataset: aws.cloudtrail AND event.provider: sts.amazonaws.com AND event.action: AssumeRoleWithWebIdentity AND event.outcome: success`, docA, true, ""},
		{"event.dataset: aws.cloudtrail\n    and event.provider: sts.amazonaws.com\n    and event.outcome: success", docA, true, ""},
		{"event.dataset:aws.cloudtrail and\n\tevent.outcome:failure", docB, true, ""},
		{`((((event.action: AssumeRoleWithWebIdentity))))`, docA, true, ""},
		{`(event.action: X or (event.action: Y or (event.action: AssumeRoleWithWebIdentity)))`, docA, true, ""},
		{`event.dataset: aws.cloudtrail and not aws.cloudtrail.user_identity.type: AWSService`, docA, true, ""},
		{`event.dataset: aws.cloudtrail and not user_agent.name: ("Chrome" or "Firefox")`, docA, true, ""}, // unknown field
		{`user_agent.name: Chrome`, docA, false, ""},
		// numbers
		{`source.as.number: 16509`, docA, true, ""},
		{`source.as.number: 16509.0`, docA, true, ""},
		{`source.as.number: 15169`, docA, false, ""},
		{`source.as.number: (15169 or 16509)`, docA, true, ""},
		{`not source.as.number: 16509`, docB, true, ""},
		{`source.as.number: "16509"`, docA, true, ""},
		{`aws.cloudtrail.flattened.request_parameters.durationSeconds: 3600`, docA, true, ""},
		{`aws.cloudtrail.flattened.request_parameters.durationSeconds: 3600.0`, docA, false, ""}, // flattened leaves are keywords: text
		{`aws.cloudtrail.flattened.request_parameters.durationSeconds: 900`, docA, false, ""},
		// ranges
		{`source.as.number > 16000`, docA, true, ""},
		{`source.as.number > 16509`, docA, false, ""},
		{`source.as.number >= 16509`, docA, true, ""},
		{`source.as.number < 16509`, docA, false, ""},
		{`source.as.number <= 16509`, docA, true, ""},
		{`source.as.number<20000`, docA, true, ""},
		{`source.as.number < 20000`, docB, false, ""}, // missing
		{`not source.as.number < 20000`, docB, true, ""},
		{`source.as.number >= 16000 and source.as.number <= 17000`, docA, true, ""},
		{`@timestamp >= "2026-03-01"`, docA, true, ""},
		{`@timestamp < "2026-03-01"`, docA, false, ""},
		{`@timestamp < "2026-03-01T00:00:00Z"`, docB, true, ""},
		{`@timestamp > "2026-02-28T23:59:59Z"`, docA, true, ""},
		{`cloud.account.id >= 111122223333`, docA, true, ""}, // keyword: string order
		{`cloud.account.id > 2`, docA, false, ""},            // "111..." < "2" as strings
		{`source.ip >= 198.51.100.0`, docA, true, ""},
		{`source.ip < 198.51.100.7`, docA, false, ""},
		// booleans
		{`aws.cloudtrail.read_only: false`, docA, true, ""},
		{`aws.cloudtrail.read_only: true`, docA, false, ""},
		{`aws.cloudtrail.read_only: true`, docB, true, ""},

		{`not aws.cloudtrail.read_only: true`, docA, true, ""},
		// IP fields and CIDR
		{`source.ip: 198.51.100.7`, docA, true, ""},
		{`source.ip: 198.51.100.8`, docA, false, ""},
		{`source.ip: 198.51.100.0/24`, docA, true, ""},
		{`source.ip: "198.51.100.0/24"`, docA, true, ""},
		{`source.ip: 10.0.0.0/8`, docA, false, ""},
		{`source.ip: (10.0.0.0/8 or 172.16.0.0/12 or 192.168.0.0/16)`, docA, false, ""},
		{`not source.ip: (10.0.0.0/8 or 172.16.0.0/12 or 192.168.0.0/16)`, docA, true, ""},
		{`source.ip: "::ffff:198.51.100.7"`, docA, true, ""}, // mapped form equals
		{`source.ip: "2001:db8::/32"`, docB, true, ""},
		{`source.ip: 2001\:db8\:\:/32`, docB, true, ""},
		{`source.ip: "2001:db8::42"`, docB, true, ""},
		{`source.ip: "2001:db8::43"`, docB, false, ""},
		{`source.ip: "2001:db8::/32"`, docA, false, ""},
		{`source.ip: 198.51.100.*`, docA, true, ""},          // wildcard on the text form
		{`source.address: 198.51.100.0/24`, docA, false, ""}, // keyword: no CIDR semantics
		// quoted field names
		{`"event.action": AssumeRoleWithWebIdentity`, docA, true, ""},
		// Quoted strings: a backslash before anything but \ " t r n u is kept.
		{`tags: "C:\Windows\System32"`, docA, true, ""},
		{`tags: "C:\\Windows\\System32"`, docA, true, ""},
		{`tags: "back\slash"`, docA, true, ""},
		{`tags: "\u12"`, docA, true, ""}, // no four hex digits: not an escape
		{`tags: "q\?mark"`, docA, false, ""},
		{`tags: "star\*lit"`, docA, false, ""}, // \* is no escape in quotes
		{`tags: "x\(y\)"`, docA, false, ""},
		{`tags: "h\U00e9llo"`, docA, false, ""}, // \U is not \u
		{`tags: "with\tspace"`, docA, false, ""},
		{`tags: "C:\"`, docA, false, "unterminated quoted string"}, // \" is an escaped quote
		// Unquoted literals: spaces inside, keywords end them, escapes.
		{`tags: Or`, docA, true, ""},     // or is a keyword only between spaces
		{`tags: and`, docA, true, ""},    //
		{`tags: cannot`, docA, true, ""}, // not is a keyword only before a space
		{`tags: \NOT`, docA, false, ""},  // the word NOT, escaped
		{`tags: \not`, docA, false, ""},  // \n comes first: a newline, then ot
		{`tags: with space `, docA, true, ""},
		{`tags:with space`, docA, true, ""},
		{`tags: with\tspace`, docA, false, ""},
		{`tags: a\:b `, docA, true, ""},
		{`tags: back\slash`, docA, false, "unknown escape \\s"},
		{`tags: \u12`, docA, false, "bad \\u escape"},
		{`tags: cannot x`, docA, false, `unexpected "n"`},
		{`event.action: AssumeRoleWithWebIdentity or`, docA, false, ""}, // the value is "AssumeRoleWithWebIdentity or"
		{`event.action: (GetCallerIdentity or AssumeRoleWithWebIdentity and)`, docA, false, ""},
		{`event.action: (AssumeRoleWithWebIdentity or GetCallerIdentity and)`, docA, true, ""},
		{`event.action: AssumeRoleWithWebIdentity and and event.outcome: success`, docA, false, ""}, // a field named "and event.outcome"
		{"event.action:\u00a0AssumeRoleWithWebIdentity", docA, true, ""},                            // no-break space is a space
		{"event.action: AssumeRoleWithWebIdentity\u00a0and\u00a0event.outcome: success", docA, true, ""},
		{"\tevent.action: AssumeRoleWithWebIdentity\r\n", docA, true, ""},
		{`"event.action" : AssumeRoleWithWebIdentity`, docA, true, ""},
		// What the grammar rejects: not not, a keyword glued to a parenthesis, not among values without parentheses.
		{`not not event.action: AssumeRoleWithWebIdentity`, docA, false, "not not is not in the grammar"},
		{`NOT not event.action: AssumeRole`, docA, false, "1:5: unexpected"},
		{`not (not event.action: AssumeRoleWithWebIdentity)`, docA, true, ""},
		{`not(event.action: AssumeRole)`, docA, false, `space between not and "("`},
		{`NOT(event.action: AssumeRole)`, docA, false, `space between NOT and "("`},
		{`event.action: AssumeRoleWithWebIdentity and(event.outcome: success)`, docA, false, `space between and and "("`},
		{`event.action: AssumeRole or(event.outcome: success)`, docA, false, `space between or and "("`},
		{`(event.action: AssumeRoleWithWebIdentity)and (event.outcome: success)`, docA, false, `space between ")" and the operator`},
		{`(event.action: AssumeRole)or(event.outcome: success)`, docA, false, `space between ")" and the operator`},
		{`event.action: (AssumeRole or(AssumeRoleWithWebIdentity))`, docA, false, `1:29: unexpected "("`},
		{`(event.action: AssumeRoleWithWebIdentity) and (event.outcome: success)`, docA, true, ""},
		{`event.action:(AssumeRole or AssumeRoleWithWebIdentity)`, docA, true, ""},
		{`event.action: not AssumeRole`, docA, false, "needs parentheses: field: (not value)"},
		{`event.action: NOT AssumeRole`, docA, false, "needs parentheses"},
		{`event.action: (not not AssumeRole)`, docA, false, "not not is not in the grammar"},
		{`event.action: (not AssumeRole)`, docA, true, ""},
		{`not event.action:AssumeRole`, docA, true, ""},
		// Free text, nested queries and wildcard field names: load errors, with their position.
		{`hello*`, docA, false, "1:1: free-text search (hello* without a field)"},
		{`"hello world"`, docA, false, `1:1: free-text search ("hello world" without a field)`},
		{`hello world`, docA, false, "1:1: free-text search (hello world without a field)"},
		{`event.action: AssumeRole and hello`, docA, false, "1:30: free-text search (hello without a field)"},
		{`event.action: AssumeRole or (hello and event.outcome: success)`, docA, false, "1:30: free-text search"},
		{`aws.cloudtrail: { event.action: X }`, docA, false, "1:17: nested field queries"},
		{`event.outcome: success and aws.cloudtrail:{event.action: X}`, docA, false, "1:43: nested field queries"},
		{`user.*: alice`, docA, false, "1:1: wildcard field names (user.*)"},
		{`event.action: AssumeRole or *: alice`, docA, false, "1:29: wildcard field names (*)"},
		// IP fields: every address in 16 bytes, IPv4 as IPv4-mapped IPv6.
		{`source.ip: "::/0"`, docA, true, ""},
		{`source.ip: "::/0"`, docB, true, ""},
		{`source.ip: "::ffff:0:0/96"`, docA, true, ""},
		{`source.ip: "::ffff:0:0/96"`, docB, false, ""},
		{`source.ip: "::ffff:198.51.100.0/120"`, docA, true, ""},
		{`source.ip: "::ffff:198.51.101.0/120"`, docA, false, ""},
		{`source.ip: "0.0.0.0/0"`, docA, true, ""},
		{`source.ip: "0.0.0.0/0"`, docB, false, ""},
		{`source.ip: "0:0:0:0:0:ffff:c633:6407"`, docA, true, ""},
		{`source.ip > "::1"`, docA, true, ""}, // ::ffff:198.51.100.7 sorts after ::1
		{`source.ip < "2001::"`, docA, true, ""},
		{`source.ip > "2001::"`, docB, true, ""},
		{`source.ip: "fe80::1%eth0"`, docA, false, "is not an IP address or CIDR block"},
		// Booleans: only true and false; ranges as Elasticsearch allows them (false < true).
		{`aws.cloudtrail.read_only: TRUE`, docB, false, `"TRUE" is not true or false`},
		{`aws.cloudtrail.read_only: True`, docB, false, "is not true or false"},
		{`aws.cloudtrail.read_only: "true"`, docB, true, ""},
		{`aws.cloudtrail.read_only: 1`, docB, false, "is not true or false"},
		{`aws.cloudtrail.read_only > false`, docB, true, ""},
		{`aws.cloudtrail.read_only > false`, docA, false, ""},
		{`aws.cloudtrail.read_only >= false`, docA, true, ""},
		{`aws.cloudtrail.read_only < true`, docA, true, ""},
		{`aws.cloudtrail.read_only <= false`, docB, false, ""},
		{`aws.cloudtrail.read_only > TRUE`, docB, false, "is not true or false"},
		// Numbers: text on keyword and flattened fields, exact on long fields.
		{`aws.cloudtrail.flattened.request_parameters.durationSeconds: "3600.0"`, docA, false, ""},
		{`aws.cloudtrail.flattened.request_parameters.durationSeconds: "3600"`, docA, true, ""},
		{`aws.cloudtrail.flattened.request_parameters.durationSeconds: 3.6e3`, docA, false, ""},
		{`aws.cloudtrail.flattened.request_parameters.durationSeconds > 999`, docA, false, ""}, // "3600" < "999" as text
		{`cloud.account.id: 111122223333.0`, docA, false, ""},
		{`aws.cloudtrail.flattened.request_parameters.big: 9007199254740993`, docA, true, ""},
		{`aws.cloudtrail.flattened.request_parameters.big: 9007199254740992`, docA, false, ""},
		{`test.long: 9007199254740993`, docA, true, ""},
		{`test.long: 9007199254740992`, docA, false, ""},
		{`test.long > 9007199254740992`, docA, true, ""},
		{`source.as.number: 16509.5`, docA, false, ""},
		{`source.as.number: 1.6509e4`, docA, true, ""},
		{`source.as.number > 16508.5`, docA, true, ""},
		{`source.as.number < 16509.5`, docA, true, ""},
		// Object paths: field: * holds when any field below has a value; values match nothing.
		{`aws.cloudtrail.flattened.request_parameters: *`, docA, true, ""},
		{`aws.cloudtrail.flattened.request_parameters: *`, docB, false, ""},
		{`aws.cloudtrail.flattened: *`, docA, true, ""},
		{`aws.cloudtrail.flattened.request_parameters: 3600`, docA, false, ""},
		{`not aws.cloudtrail.flattened.request_parameters: 3600`, docA, true, ""},
		{`source.as: *`, docA, true, ""},
		{`source.as: *`, docB, false, ""},
		{`source: *`, docB, true, ""},
		{`source.as > 1`, docA, false, ""},
	}
	// 177 rows came before the table followed Kibana's grammar, and at
	// least 60 with it.
	if len(cases) < 177+60 {
		t.Fatalf("conformance table has %d cases, want at least %d", len(cases), 177+60)
	}
	for _, c := range cases {
		got, err := eval(t, c.q, c.d)
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err = %v, want %q", c.q, err, c.err)
			}
			continue
		case err != nil:
			t.Errorf("%s: %v", c.q, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s on %v = %v, want %v", c.q, c.d["event.action"], got, c.want)
		}
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		q, want string
	}{
		{``, "1:1: empty query"},
		{`   `, "empty query"},
		{`AssumeRole`, "1:1: free-text search (AssumeRole without a field) is not supported"},
		{`event.action: AssumeRole and sts`, "1:30: free-text search"},
		{`"quoted free text"`, "free-text search"},
		{`not`, "1:1: free-text search (not without a field)"}, // not needs a space after it
		{`event.action:`, `1:14: unexpected end of query, want "{", "(" or a value`},
		{`event.action: (AssumeRole or`, `1:29: unexpected end of query, want "and", "or" or ")"`},
		{`event.action: (AssumeRole`, `want "and", "or" or ")"`},
		{`(event.action: AssumeRole`, `1:26: unexpected end of query, want "and", "or" or ")"`},
		{`event.action: AssumeRole)`, `1:25: unexpected ")"`},
		{`event.action: "AssumeRole`, "1:15: unterminated quoted string"},
		{`event.action: bad\qescape`, `1:18: unknown escape \q`},
		{`event.action: trailing\`, "unfinished escape"},
		{`event.action: \u12`, `bad \u escape`},
		{`aws.cloudtrail: { event.action: X }`, "nested field queries (field:{...}) are not supported"},
		{`user.*: alice`, "wildcard field names (user.*) are not supported"},
		{`event.action: X event.outcome: Y`, `1:30: unexpected ":"`},
		{`event.action < `, "want a value"},
		{`source.as.number: many`, `"many" is not a number, and the field is numeric`},
		{`source.as.number: 165*`, "wildcard \"165*\" on long field"},
		{`source.as.number > many`, "not a number"},
		{`source.ip: not-an-ip`, "is not an IP address or CIDR block"},
		{`aws.cloudtrail.read_only: maybe`, "is not true or false"},
		{`@timestamp > now-1d`, "date math is not supported"},
		{`event.action > Assume*`, "wildcards are not allowed in a range"},
		{"event.action: X and\nevent.outcome: \"Y", "2:16: unterminated quoted string"},
		{`event.action: (X or (Y and)`, `unexpected end of query`},
		{`source.ip: ::1`, `1:12: unexpected ":", want "{", "(" or a value`}, // ':' must be escaped
		{`@timestamp > 2026-01-01T00:00:00Z`, `1:27: unexpected ":", want "and", "or" or the end of the query`},
	}
	for _, c := range cases {
		_, err := eval(t, c.q, docA)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want %q", c.q, err, c.want)
		}
	}
}

func TestFieldsAndRequired(t *testing.T) {
	ts := &testSource{}
	q, err := Compile(`event.dataset: aws.cloudtrail and event.provider: sts.amazonaws.com and
		event.action: (AssumeRoleWithWebIdentity or AssumeRoleWithSAML) and not user_agent.name: Chrome`, ts.resolve)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(q.Fields(), ","); got != "event.dataset,event.provider,event.action,user_agent.name" {
		t.Errorf("Fields = %s", got)
	}
	if got := strings.Join(q.Unknown(), ","); got != "user_agent.name" {
		t.Errorf("Unknown = %s", got)
	}
	cases := []struct {
		q, field, want string
		ok             bool
	}{
		{`event.action: (A or B) and event.outcome: success`, "event.action", "A,B", true},
		{`event.provider: sts.amazonaws.com and event.action: (A or B)`, "event.provider", "sts.amazonaws.com", true},
		{`event.action: A or event.action: B`, "event.action", "A,B", true},
		{`event.action: A or event.outcome: success`, "event.action", "", false},
		{`event.action: A*`, "event.action", "", false},
		{`not event.action: A`, "event.action", "", false},
		{`event.action: (A and not B)`, "event.action", "A", true},
		{`(event.action: A and x: 1) or (event.action: "B C" and y: 2)`, "event.action", "A,B C", true},
		{`event.action: *`, "event.action", "", false},
		{`event.outcome: success`, "event.action", "", false},
	}
	for _, c := range cases {
		q, err := Compile(c.q, (&testSource{}).resolve)
		if err != nil {
			t.Fatal(err)
		}
		vals, ok := q.Required(c.field)
		if ok != c.ok || strings.Join(vals, ",") != c.want {
			t.Errorf("%s: Required(%s) = %q %v, want %q %v", c.q, c.field, vals, ok, c.want, c.ok)
		}
	}
}

func FuzzCompile(f *testing.F) {
	for _, q := range []string{
		`event.action: (A or B) and not user.name: x*y`, `source.as.number >= 10`, `a: "q\"uoted" or b: \:esc`,
		`source.ip: 10.0.0.0/8`, `x: (* and not (A* or B*))`, `@timestamp < "2026-01-01"`, `f: {g: 1}`,
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		ts := &testSource{}
		c, err := Compile(q, ts.resolve)
		if err != nil {
			if e := (*Error)(nil); !errors.As(err, &e) || e.Line < 1 || e.Col < 1 || e.Msg == "" {
				t.Fatalf("%q: bad error %#v", q, err)
			}
			return
		}
		ts.d = docA
		c.Match(ts)
		ts.d = docB
		c.Match(ts)
		c.Required("event.action")
	})
}

// sliceSource is a document indexed by field id, as rules.Doc serves
// values once computed: what matching costs without the lookup.
type sliceSource struct{ vals [][]Value }

func (s *sliceSource) Values(id int) []Value { return s.vals[id] }

// BenchmarkMatch is the evaluator alone on docA: the reference rule's
// query, and the kinds of value test rules make (wildcard, number, CIDR),
// matching and not.
func BenchmarkMatch(b *testing.B) {
	for _, c := range []struct{ name, q string }{
		{"reference", `event.dataset: aws.cloudtrail and event.provider: sts.amazonaws.com and event.action: AssumeRoleWithWebIdentity and event.outcome: success`},
		{"reference-miss", `event.dataset: aws.cloudtrail and event.provider: sts.amazonaws.com and event.action: AssumeRoleWithSAML and event.outcome: success`},
		{"wildcard", `aws.cloudtrail.request_parameters: (*roleSessionName* and *durationSeconds=3600*) and not user_agent.original: *Boto3*`},
		{"number", `source.as.number >= 900 and aws.cloudtrail.flattened.request_parameters.durationSeconds: 3600`},
		{"cidr", `source.ip: 198.51.100.0/24 and not aws.cloudtrail.read_only: true`},
	} {
		b.Run(c.name, func(b *testing.B) {
			ts := &testSource{}
			q, err := Compile(c.q, ts.resolve)
			if err != nil {
				b.Fatal(err)
			}
			src := &sliceSource{make([][]Value, len(ts.names))}
			for i, n := range ts.names {
				src.vals[i] = docA[n]
			}
			want := !strings.HasSuffix(c.name, "-miss")
			b.ReportAllocs()
			for b.Loop() {
				if q.Match(src) != want {
					b.Fatalf("%s: match is not %v", c.q, want)
				}
			}
		})
	}
}
