// Package synth generates seeded, synthetic CloudTrail streams for tests,
// benchmarks and the bundled sample: web identities (CI and Kubernetes
// service accounts) assuming roles from their usual networks, IAM users
// signing in, background API noise, and the anomalies the seed rules exist
// for: a token replayed from a network the role never used. Streams carry
// failures, non-IP sources, multi-resource events and out-of-order times.
//
// The addresses come from the networks of testdata/asn's generated
// databases, so that enrichment gives known ASNs.
package synth

//go:generate go run ../../testdata/samplegen -o ../../testdata/cloudtrail/sample.ndjson.gz

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"
)

// Network is an address block of the test ASN database.
type Network struct {
	ASN    uint32
	Org    string
	Prefix [3]byte // a /24 inside the database's network
}

// Networks mirrors testdata/mmdbgen: the home networks of identities and
// the ones attacks come from.
var Networks = []Network{
	{16509, "Amazon.com, Inc.", [3]byte{3, 5, 1}},
	{16509, "Amazon.com, Inc.", [3]byte{52, 94, 7}},
	{36459, "GitHub, Inc.", [3]byte{140, 82, 112}},
	{8075, "Microsoft Corporation", [3]byte{20, 7, 3}},
	{7922, "Comcast Cable Communications, LLC", [3]byte{73, 12, 40}},
	{3320, "Deutsche Telekom AG", [3]byte{91, 22, 8}},
	{14061, "DigitalOcean, LLC", [3]byte{159, 203, 9}},
	{16276, "OVH SAS", [3]byte{51, 68, 30}},
	{9009, "M247 Europe SRL", [3]byte{45, 128, 232}},
	{208294, "Foundation for Applied Privacy", [3]byte{185, 220, 101}},
}

// attackNets are where replayed tokens come from.
var attackNets = []int{6, 7, 8, 9}

// Event is one generated record with the facts an oracle needs.
type Event struct {
	JSON      []byte
	Time      time.Time
	ID        string
	Action    string
	Success   bool
	Subject   string   // user.id of a web identity
	Roles     []string // resources ARNs
	ASN       uint32   // 0: no ASN (no IP, or an address outside the database)
	Anomalous bool     // generated as an attack
}

// Options shape a stream.
type Options struct {
	Seed   uint64
	Start  time.Time
	Days   int
	Events int
}

const account = "111122223333"

type identity struct {
	subject, name string
	role          string
	home          []int // indexes into Networks
	since         int   // first day the identity is active
}

// Stream generates the events, in stream order (mostly by time).
func Stream(o Options) []Event {
	rng := rand.New(rand.NewPCG(o.Seed, 0x5eed))
	span := time.Duration(o.Days) * 24 * time.Hour
	ids := []identity{
		{subject: "repo:example-org/deploy:ref:refs/heads/main", role: "gha-deploy", home: []int{2}},
		{subject: "repo:example-org/web:environment:prod", role: "gha-web", home: []int{2, 3}},
		{subject: "system:serviceaccount:payments:api", role: "payments-api", home: []int{0}},
		{subject: "system:serviceaccount:ledger:worker", role: "ledger-worker", home: []int{0, 1}},
		{subject: "system:serviceaccount:search:indexer", role: "search-indexer", home: []int{1}},
		{subject: "repo:example-org/data:ref:refs/heads/main", role: "data-pipeline", home: []int{2}, since: o.Days / 2},
		{subject: "system:serviceaccount:batch:nightly", role: "batch-nightly", home: []int{0}, since: o.Days * 3 / 4},
	}
	for i := range ids {
		ids[i].name = ids[i].subject
		if ids[i].subject[:5] == "repo:" {
			ids[i].subject = "arn:aws:iam::" + account + ":oidc-provider/token.actions.githubusercontent.com:sts.amazonaws.com:" + ids[i].subject
		} else {
			ids[i].subject = "arn:aws:iam::" + account + ":oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE:sts.amazonaws.com:" + ids[i].subject
		}
	}
	users := []struct {
		name string
		home int
	}{{"alice", 4}, {"bob", 5}, {"carol", 4}}

	out := make([]Event, 0, o.Events)
	for i := range o.Events {
		at := o.Start.Add(time.Duration(float64(span) * float64(i) / float64(o.Events)))
		at = at.Add(time.Duration(rng.IntN(60)) * time.Second)
		if rng.IntN(100) < 3 { // delivered late: out of order
			at = at.Add(-time.Duration(rng.IntN(3*3600)) * time.Second)
		}
		day := int(at.Sub(o.Start) / (24 * time.Hour))
		id := fmt.Sprintf("%08x-%04x-4000-8000-%012x", o.Seed, i>>16, i)
		var ev Event
		switch p := rng.IntN(100); {
		case p < 30:
			who := ids[rng.IntN(len(ids))]
			for who.since > day {
				who = ids[rng.IntN(len(ids))]
			}
			netIdx := who.home[rng.IntN(len(who.home))]
			anomalous := rng.IntN(100) < 2
			if anomalous {
				netIdx = attackNets[rng.IntN(len(attackNets))]
			}
			roles := []string{"arn:aws:iam::" + account + ":role/" + who.role}
			if rng.IntN(50) == 0 { // a record naming two roles
				roles = append(roles, "arn:aws:iam::"+account+":role/"+ids[rng.IntN(len(ids))].role)
			}
			success := rng.IntN(100) >= 5
			ev = webIdentity(rng, id, at, who, roles, netIdx, success)
			ev.Anomalous = anomalous
		case p < 38:
			u := users[rng.IntN(len(users))]
			netIdx := u.home
			if rng.IntN(100) < 3 {
				netIdx = attackNets[rng.IntN(len(attackNets))]
			}
			ev = consoleLogin(rng, id, at, u.name, netIdx)
		case p < 48:
			ev = serviceAssumeRole(id, at)
		default:
			ev = noise(rng, id, at, users[rng.IntN(len(users))].name)
		}
		out = append(out, ev)
	}
	return out
}

func ip(rng *rand.Rand, netIdx int) (string, uint32) {
	n := Networks[netIdx]
	return fmt.Sprintf("%d.%d.%d.%d", n.Prefix[0], n.Prefix[1], n.Prefix[2], 1+rng.IntN(254)), n.ASN
}

func record(at time.Time, id, source, action, sourceIP string, ident map[string]any, extra map[string]any) map[string]any {
	r := map[string]any{
		"eventVersion": "1.08", "userIdentity": ident, "eventTime": at.UTC().Format(time.RFC3339),
		"eventSource": source, "eventName": action, "awsRegion": "us-east-1", "sourceIPAddress": sourceIP,
		"userAgent": "aws-sdk-go-v2/1.30.0", "requestID": "req-" + id[len(id)-8:], "eventID": id,
		"readOnly": false, "eventType": "AwsApiCall", "managementEvent": true,
		"recipientAccountId": account, "eventCategory": "Management",
	}
	for k, v := range extra {
		r[k] = v
	}
	return r
}

func encode(r map[string]any) []byte {
	b, err := json.Marshal(r)
	if err != nil {
		panic(err) // maps of strings and numbers always encode
	}
	return b
}

func webIdentity(rng *rand.Rand, id string, at time.Time, who identity, roles []string, netIdx int, success bool) Event {
	addr, asn := ip(rng, netIdx)
	var res []any
	for _, r := range roles {
		res = append(res, map[string]any{"accountId": account, "type": "AWS::IAM::Role", "ARN": r})
	}
	extra := map[string]any{
		"requestParameters": map[string]any{"roleArn": roles[0], "roleSessionName": fmt.Sprintf("session-%d", rng.IntN(1e6)), "durationSeconds": 3600},
		"resources":         res,
	}
	if success {
		extra["responseElements"] = map[string]any{"subjectFromWebIdentityToken": who.name, "audience": "sts.amazonaws.com"}
	} else {
		extra["errorCode"] = "AccessDenied"
		extra["errorMessage"] = "Not authorized to perform sts:AssumeRoleWithWebIdentity"
	}
	ident := map[string]any{"type": "WebIdentityUser", "principalId": who.subject, "userName": who.name}
	r := record(at, id, "sts.amazonaws.com", "AssumeRoleWithWebIdentity", addr, ident, extra)
	return Event{JSON: encode(r), Time: at, ID: id, Action: "AssumeRoleWithWebIdentity", Success: success,
		Subject: who.subject, Roles: roles, ASN: asn}
}

func consoleLogin(rng *rand.Rand, id string, at time.Time, user string, netIdx int) Event {
	addr, asn := ip(rng, netIdx)
	ident := map[string]any{"type": "IAMUser", "principalId": "AIDA" + user, "arn": "arn:aws:iam::" + account + ":user/" + user,
		"accountId": account, "userName": user}
	r := record(at, id, "signin.amazonaws.com", "ConsoleLogin", addr, ident, map[string]any{
		"responseElements": map[string]any{"ConsoleLogin": "Success"}, "additionalEventData": map[string]any{"MFAUsed": "Yes"},
		"eventType": "AwsConsoleSignIn"})
	return Event{JSON: encode(r), Time: at, ID: id, Action: "ConsoleLogin", Success: true, ASN: asn}
}

// serviceAssumeRole has a service name, not an IP, as source.
func serviceAssumeRole(id string, at time.Time) Event {
	role := "arn:aws:iam::" + account + ":role/lambda-exec"
	r := record(at, id, "sts.amazonaws.com", "AssumeRole", "lambda.amazonaws.com",
		map[string]any{"type": "AWSService", "invokedBy": "lambda.amazonaws.com"},
		map[string]any{"resources": []any{map[string]any{"ARN": role, "accountId": account, "type": "AWS::IAM::Role"}},
			"requestParameters": map[string]any{"roleArn": role, "roleSessionName": "fn"}})
	return Event{JSON: encode(r), Time: at, ID: id, Action: "AssumeRole", Success: true, Roles: []string{role}}
}

var noiseActions = []struct{ source, action string }{
	{"ec2.amazonaws.com", "DescribeInstances"}, {"s3.amazonaws.com", "GetObject"}, {"s3.amazonaws.com", "PutObject"},
	{"sts.amazonaws.com", "GetCallerIdentity"}, {"kms.amazonaws.com", "Decrypt"}, {"lambda.amazonaws.com", "Invoke"},
	{"logs.amazonaws.com", "PutLogEvents"}, {"dynamodb.amazonaws.com", "Query"},
}

func noise(rng *rand.Rand, id string, at time.Time, user string) Event {
	a := noiseActions[rng.IntN(len(noiseActions))]
	addr, asn := ip(rng, rng.IntN(2))
	ident := map[string]any{"type": "AssumedRole", "principalId": "AROAEXAMPLE:" + user, "arn": "arn:aws:sts::" + account + ":assumed-role/app/" + user,
		"accountId": account, "sessionContext": map[string]any{"sessionIssuer": map[string]any{"type": "Role", "principalId": "AROAEXAMPLE",
			"arn": "arn:aws:iam::" + account + ":role/app", "accountId": account, "userName": "app"}}}
	r := record(at, id, a.source, a.action, addr, ident, map[string]any{"readOnly": true,
		"requestParameters": map[string]any{"bucketName": "data", "key": fmt.Sprintf("obj/%d", rng.IntN(1000))}})
	return Event{JSON: encode(r), Time: at, ID: id, Action: a.action, Success: true, ASN: asn}
}
