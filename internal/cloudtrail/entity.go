package cloudtrail

import (
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// The entity fields (related.entity, actor.entity.id, *.entity.id,
// target.entity.id, *.target.entity.id, host.target.id, entity.target.id)
// follow the one Painless script of Elastic's pipeline that derives them
// (docs/cloudtrail-ecs.md, entity fields). Elastic runs it only with the
// actor_target_mapping tag; newterms always does, since Elastic's rules key
// on entity.target.id and related.entity. All of them come from one pass
// over the record, done on the first request for any of them and kept for
// the event.

// entities is that pass's result. Its slices are reused from event to
// event; their strings borrow the record, like every value of the event.
type entities struct {
	done bool
	// failed: the record holds a value of a type the script does not
	// expect where it reads a string or a list, so that Elastic's script
	// stops with an error and sets none of the fields.
	failed  bool
	related []string // sorted, distinct
	target  []string // sorted, distinct
	// The targets by class, each sorted.
	userT, hostT, serviceT, genericT, hostIDs []string
	actor                                     string // "" when there is none
	actorField                                actorClass
	userEntity                                string // user.entity.id when actorField is actorUser
	seen, seenTarget                          map[string]struct{}
	ids                                       []*fastjson.Value // scratch
}

type actorClass uint8

const (
	actorNone actorClass = iota
	actorService
	actorUser
	actorHost
	actorGeneric
)

// entityBuilder adds values to the two sets as the script does; after a
// value of the wrong type it does nothing more.
type entityBuilder struct {
	e   *Event
	ent *entities
}

type entitySet bool

const (
	toRelated entitySet = false
	toTarget  entitySet = true
)

// addValue is the script's addValue: false for an absent value or one the
// set holds already. A value that is not a string fails the whole pass.
func (b *entityBuilder) addValue(to entitySet, v *fastjson.Value) bool {
	if b.ent.failed || missing(v) {
		return false
	}
	if v.Type() != fastjson.TypeString {
		b.ent.failed = true
		return false
	}
	s, _ := v.StringBytes()
	return b.addString(to, b2s(s))
}

func (b *entityBuilder) addString(to entitySet, s string) bool {
	set, seen := &b.ent.related, b.ent.seen
	if to == toTarget {
		set, seen = &b.ent.target, b.ent.seenTarget
	}
	if _, dup := seen[s]; dup {
		return false
	}
	seen[s] = struct{}{}
	*set = append(*set, s)
	return true
}

// addField adds the value at a path of the record.
func (b *entityBuilder) addField(to entitySet, p []string) { b.addValue(to, b.e.get(p...)) }

// addValues is the script's addValues, which stops at the first value
// that adds nothing (absent, or already there).
func (b *entityBuilder) addValues(to entitySet, vs ...*fastjson.Value) {
	for _, v := range vs {
		if !b.addValue(to, v) {
			return
		}
	}
}

// list is the array at a path, with the elements remove-nulls keeps; nil
// when absent. Anything but an array there fails the pass, as the
// script's stream() over it does.
func (b *entityBuilder) list(v *fastjson.Value) []*fastjson.Value {
	if b.ent.failed || missing(v) {
		return nil
	}
	if v.Type() != fastjson.TypeArray {
		b.ent.failed = true
		return nil
	}
	a, _ := v.Array()
	return a
}

// each is objects over the array at a path of the record.
func (b *entityBuilder) each(p []string, fn func(o *fastjson.Value)) { b.objects(b.e.get(p...), fn) }

// sub is el.k1.k2 as Painless null-safe access reads it.
func sub(el *fastjson.Value, keys ...string) *fastjson.Value {
	for _, k := range keys {
		if el == nil || el.Type() != fastjson.TypeObject {
			return nil
		}
		el = el.Get(k)
	}
	return el
}

// str is the value at a path when it is a string; ok is false when it is
// absent, and bad when it is there but not a string.
func (b *entityBuilder) str(p ...string) (s string, ok, bad bool) {
	v := b.e.get(p...)
	if missing(v) {
		return "", false, false
	}
	if v.Type() != fastjson.TypeString {
		return "", false, true
	}
	sb, _ := v.StringBytes()
	return b2s(sb), true, false
}

// enrichment is what the script adds for one eventSource: related holds
// paths added to related.entity for every event of the service, then lists
// runs (the service's array walks, in the script's order), then the first
// target rule whose event name matches adds targets.
type enrichment struct {
	related [][]string
	lists   func(b *entityBuilder)
	targets []targetRule
}

type targetRule struct {
	names    []string // event names; with contains, substrings of it
	contains bool
	paths    [][]string // added to target
	// resources adds every resources[].ARN to target; special runs after paths.
	resources bool
	special   func(b *entityBuilder)
}

func paths(ps ...string) [][]string {
	out := make([][]string, len(ps))
	for i, p := range ps {
		out[i] = strings.Split(p, ".")
	}
	return out
}

func names(ns ...string) []string { return ns }

// enrichments is the script's per-service table, by eventSource
// (docs/cloudtrail-ecs.md lists it).
var enrichments = map[string]enrichment{
	"cloudformation.amazonaws.com": {targets: []targetRule{
		{names: names("CreateStackSet"), paths: paths("responseElements.stackSetId")},
		{names: names("CreateStack"), paths: paths("responseElements.stackId")},
	}},
	"cloudtrail.amazonaws.com": {
		related: paths("requestParameters.name", "requestParameters.s3BucketName", "responseElements.cloudWatchLogsLogGroupArn",
			"responseElements.cloudWatchLogsRoleArn", "responseElements.kmsKeyId", "responseElements.snsTopicARN",
			"responseElements.trailARN", "responseElements.name"),
		targets: []targetRule{
			{names: names("DeleteTrail", "StopLogging"), paths: paths("requestParameters.name")},
			{names: names("DescribeTrails"), paths: paths("recipientAccountId")},
		},
	},
	"config.amazonaws.com": {
		related: paths("requestParameters.configurationRecorderName"),
		targets: []targetRule{{names: names("StopConfigurationRecorder", "StartConfigurationRecorder"), paths: paths("requestParameters.configurationRecorderName")}},
	},
	"ec2-instance-connect.amazonaws.com": {targets: []targetRule{
		{names: names("SendSSHPublicKey", "SendSerialConsoleSSHPublicKey"), paths: paths("requestParameters.instanceId")},
	}},
	"ec2.amazonaws.com": {
		related: paths("requestParameters.groupId", "requestParameters.groupName", "requestParameters.roleName", "requestParameters.subnetId",
			"requestParameters.volumeId", "requestParameters.networkInterfaceId", "requestParameters.vpcId", "requestParameters.snapshotId",
			"responseElements.groupId", "responseElements.reservationId", "responseElements.vpc.vpcId", "responseElements.vpc.dhcpOptionsId",
			"responseElements.snapshotId", "responseElements.volumeId"),
		lists: ec2Lists,
		targets: []targetRule{
			{names: names("AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress"), paths: paths("requestParameters.groupId"), special: func(b *entityBuilder) {
				b.each(pSecurityGroupRules, func(o *fastjson.Value) { b.addValue(toTarget, sub(o, "securityGroupRuleId")) })
			}},
			{names: names("CreateTrafficMirrorFilter"), paths: paths("responseElements.CreateTrafficMirrorFilterResponse.trafficMirrorFilter.trafficMirrorFilterId")},
			{names: names("CreateTrafficMirrorFilterRule"), paths: paths("responseElements.CreateTrafficMirrorFilterRuleResponse.trafficMirrorFilterRule.trafficMirrorFilterRuleId")},
			{names: names("CreateTrafficMirrorSession"), paths: paths("responseElements.CreateTrafficMirrorSessionResponse.trafficMirrorSession.trafficMirrorSessionId")},
			{names: names("CreateTrafficMirrorTarget"), paths: paths("responseElements.CreateTrafficMirrorTargetResponse.trafficMirrorTarget.trafficMirrorTargetId")},
			{names: names("DeleteFlowLogs"), paths: paths("requestParameters.DeleteFlowLogsRequest.FlowLogId.content")},
			{names: names("DeleteNetworkAcl"), paths: paths("requestParameters.networkAclId")},
			{names: names("DeleteNetworkAclEntry"), paths: paths("requestParameters.networkAclId"), special: func(b *entityBuilder) {
				// String.valueOf: any JSON value, as Java prints it.
				if v := b.e.get("requestParameters", "ruleNumber"); !missing(v) {
					start := len(b.e.buf)
					b.e.buf = appendJava(b.e.buf, v)
					b.addString(toTarget, b2s(b.e.buf[start:]))
				}
			}},
			{names: names("GetPasswordData"), paths: paths("requestParameters.instanceId")},
			{names: names("ModifyImageAttribute"), paths: paths("requestParameters.imageId")},
			{names: names("ModifySnapshotAttribute"), paths: paths("requestParameters.snapshotId")},
			{names: names("DescribeSecurityGroups", "DescribeNetworkInterfaces", "DescribeRegions", "DescribeVpcs", "DescribeNetworkAcls", "DescribeVolumes"), paths: paths("recipientAccountId")},
		},
	},
	"elasticfilesystem.amazonaws.com": {targets: []targetRule{
		{names: names("DeleteFileSystem"), paths: paths("requestParameters.fileSystemId")},
		{names: names("DeleteMountTarget"), paths: paths("requestParameters.mountTargetId")},
	}},
	"events.amazonaws.com": {targets: []targetRule{{names: names("DeleteRule"), paths: paths("requestParameters.name")}}},
	"guardduty.amazonaws.com": {
		related: paths("requestParameters.detectorId", "responseElements.detectorId"),
		targets: []targetRule{
			{names: names("CreateDetector"), paths: paths("responseElements.detectorId")},
			{names: names("DeleteDetector"), paths: paths("requestParameters.detectorId")},
		},
	},
	"iam.amazonaws.com": {
		related: paths("requestParameters.userName", "requestParameters.serialNumber", "requestParameters.accessKeyId", "requestParameters.policyArn",
			"requestParameters.roleName", "requestParameters.policyName", "responseElements.accessKey.userName",
			"responseElements.accessKey.accessKeyId", "responseElements.user.arn", "responseElements.user.userId", "responseElements.user.userName",
			"responseElements.userId", "responseElements.role.arn", "responseElements.serialNumber"),
		targets: []targetRule{
			{names: names("AttachGroupPolicy"), paths: paths("requestParameters.groupName")},
			{names: names("AttachRolePolicy", "ListAttachedRolePolicies", "UpdateAssumeRolePolicy"), paths: paths("requestParameters.roleName")},
			{names: names("AttachUserPolicy"), paths: paths("requestParameters.policyArn", "requestParameters.userName")},
			{names: names("CreateAccessKey"), paths: paths("responseElements.accessKey.accessKeyId", "requestParameters.userName")},
			{names: names("CreateUser", "DeactivateMFADevice"), paths: paths("requestParameters.userName")},
			{names: names("DeleteVirtualMFADevice"), paths: paths("requestParameters.serialNumber")},
			{names: names("GetPolicy"), paths: paths("requestParameters.policyArn")},
			{names: names("CreatePolicy"), paths: paths("responseElements.policy.arn")},
			{names: names("ListRoles", "ListUsers"), paths: paths("recipientAccountId")},
		},
	},
	"kms.amazonaws.com": {
		related: paths("requestParameters.keyId", "responseElements.keyId", "responseElements.keyMetadata.arn", "responseElements.keyMetadata.keyId"),
		targets: []targetRule{{names: names("DisableKey", "ScheduleKeyDeletion"), resources: true}},
	},
	"lambda.amazonaws.com": {
		related: paths("requestParameters.functionName", "responseElements.functionArn", "responseElements.functionName", "responseElements.role"),
		lists: func(b *entityBuilder) {
			b.addList(toRelated, b.e.get("responseElements", "vpcConfig", "securityGroupIds"))
			b.addList(toRelated, b.e.get("responseElements", "vpcConfig", "subnetIds"))
		},
		// Lambda's event names carry an API version (AddPermission20150331v2).
		targets: []targetRule{
			{names: names("AddPermission"), contains: true, paths: paths("requestParameters.functionName")},
			{names: names("ListFunctions"), contains: true, paths: paths("recipientAccountId")},
		},
	},
	"logs.amazonaws.com": {targets: []targetRule{
		{names: names("DeleteLogGroup"), paths: paths("requestParameters.logGroupName")},
		{names: names("DeleteLogStream"), paths: paths("requestParameters.logStreamName")},
	}},
	"monitoring.amazonaws.com": {targets: []targetRule{{names: names("DeleteAlarms"), special: func(b *entityBuilder) {
		for _, v := range b.list(b.e.get("requestParameters", "alarmNames")) {
			if !missing(v) {
				b.addValue(toTarget, v)
			}
		}
	}}}},
	"rds.amazonaws.com": {
		// vpcSecurityGroups.vpcSecurityGroupId reads through a list, which the
		// script's $() does not walk: it never adds anything, as in Elastic.
		related: paths("requestParameters.dBInstanceIdentifier", "requestParameters.dBInstanceArn", "responseElements.dBInstanceIdentifier",
			"responseElements.dbInstanceArn", "responseElements.dBSubnetGroup.vpcId", "responseElements.vpcSecurityGroups.vpcSecurityGroupId"),
		lists: func(b *entityBuilder) {
			b.each(pRDSSubnets, func(o *fastjson.Value) { b.addValue(toRelated, sub(o, "subnetIdentifier")) })
			b.each(pRDSSecurityGroups, func(o *fastjson.Value) { b.addValue(toRelated, sub(o, "vpcSecurityGroupId")) })
		},
		targets: []targetRule{
			{names: names("DeleteDBCluster", "ModifyDBCluster", "StopDBCluster"), paths: paths("responseElements.dBClusterArn")},
			{names: names("DeleteDBInstance", "ModifyDBInstance", "RestoreDBInstanceFromDBSnapshot", "RestoreDBInstanceFromS3", "StopDBInstance"), paths: paths("responseElements.dBInstanceArn")},
			{names: names("DeleteGlobalCluster"), paths: paths("responseElements.globalClusterArn")},
			{names: names("ModifyDBClusterSnapshotAttribute"), paths: paths("responseElements.dBClusterSnapshotIdentifier")},
			{names: names("ModifyDBSnapshotAttribute"), paths: paths("responseElements.dBSnapshotIdentifier")},
			{names: names("DescribeDBInstances"), paths: paths("recipientAccountId")},
		},
	},
	"rolesanywhere.amazonaws.com": {targets: []targetRule{
		{names: names("CreateTrustAnchor"), paths: paths("responseElements.trustAnchor.trustAnchorArn")},
	}},
	"route53resolver.amazonaws.com": {targets: []targetRule{
		{names: names("DeleteResolverQueryLogConfig"), paths: paths("responseElements.resolverQueryLogConfig.arn")},
	}},
	"s3.amazonaws.com": {
		related: paths("requestParameters.bucketName"),
		targets: []targetRule{
			{names: names("CopyObject", "PutBucketLogging", "PutBucketVersioning", "PutObject", "GetBucketPolicy", "ListObjects", "HeadObject",
				"GetObject", "DeleteObject", "DeleteBucket"), resources: true},
			{names: names("PutBucketReplication"), resources: true, paths: paths("requestParameters.ReplicationConfiguration.Rule.Destination.Bucket")},
			{names: names("ListBuckets"), paths: paths("recipientAccountId")},
		},
	},
	"secretsmanager.amazonaws.com": {targets: []targetRule{
		{names: names("BatchGetSecretValue"), special: func(b *entityBuilder) {
			for _, v := range b.list(b.e.get("requestParameters", "secretIdList")) {
				if !missing(v) {
					b.addValue(toTarget, v)
				}
			}
		}},
		{names: names("GetSecretValue"), paths: paths("requestParameters.secretId")},
	}},
	"signin.amazonaws.com": {targets: []targetRule{{names: names("ConsoleLogin"), paths: paths("recipientAccountId")}}},
	"ssm.amazonaws.com": {targets: []targetRule{
		{names: names("GetParameter", "GetParameters", "CreateControlChannel", "OpenControlChannel"), resources: true},
		{names: names("StartSession"), paths: paths("requestParameters.target")},
		{names: names("CreateDocument"), paths: paths("requestParameters.name")},
		{names: names("TerminateSession", "OpenDataChannel"), paths: paths("requestParameters.sessionId")},
		{names: names("SendCommand"), special: sendCommandTargets},
		{names: names("ListInstanceAssociations"), paths: paths("recipientAccountId")},
	}},
	"sts.amazonaws.com": {
		related: paths("requestParameters.roleArn", "sourceIdentity", "additionalEventData.MFAIdentifier", "responseElements.assumedRoleUser.arn",
			"requestParameters.roleSessionName", "responseElements.accessKeyId"),
		targets: []targetRule{
			{names: names("AssumeRole"), paths: paths("requestParameters.roleArn"), special: assumeRoleActor},
			{names: names("GetCallerIdentity"), paths: paths("recipientAccountId"), special: func(b *entityBuilder) { b.setActor("userIdentity", "arn") }},
		},
	},
	"wafv2.amazonaws.com": {
		related: paths("requestParameters.id", "responseElements.summary"),
		targets: []targetRule{{names: names("DeleteRuleGroup", "DeleteWebACL"), paths: paths("requestParameters.id")}},
	},
	"sns.amazonaws.com": {targets: []targetRule{
		{names: names("CreateTopic"), paths: paths("responseElements.topicArn")},
		{names: names("Subscribe", "Publish"), paths: paths("requestParameters.topicArn")},
	}},
	"bedrock.amazonaws.com":              {targets: []targetRule{{names: names("Converse"), paths: paths("requestParameters.modelId")}}},
	"elasticloadbalancing.amazonaws.com": {targets: []targetRule{{names: names("DescribeLoadBalancers"), paths: paths("recipientAccountId")}}},
	"dynamodb.amazonaws.com":             {targets: []targetRule{{names: names("ListTables"), paths: paths("recipientAccountId")}}},
}

var (
	pSecurityGroupRules = strings.Split("responseElements.securityGroupRuleSet.items", ".")
	pRDSSubnets         = strings.Split("responseElements.dBSubnetGroup.subnets", ".")
	pRDSSecurityGroups  = strings.Split("responseElements.vpcSecurityGroups", ".")
	pIdentityRelated    = paths("userIdentity.accessKeyId", "userIdentity.arn", "userIdentity.userName",
		"userIdentity.sessionContext.sessionIssuer.arn", "userIdentity.sessionContext.sessionIssuer.userName")
)

func ec2Lists(b *entityBuilder) {
	b.each(pSecurityGroupRules, func(o *fastjson.Value) {
		b.addValues(toRelated, sub(o, "groupId"), sub(o, "referencedGroupInfo", "groupId"), sub(o, "securityGroupRuleId"))
	})
	b.each([]string{"responseElements", "groupSet", "items"}, func(o *fastjson.Value) { b.addValue(toRelated, sub(o, "groupId")) })
	b.each([]string{"requestParameters", "groupSet", "items"}, func(o *fastjson.Value) { b.addValue(toRelated, sub(o, "groupId")) })
	b.each([]string{"requestParameters", "instancesSet", "items"}, func(o *fastjson.Value) { b.addValue(toRelated, sub(o, "instanceId")) })
	b.each([]string{"responseElements", "instancesSet", "items"}, func(inst *fastjson.Value) {
		b.addValues(toRelated, sub(inst, "subnetId"), sub(inst, "vpcId"), sub(inst, "instanceId"), sub(inst, "imageId"),
			sub(inst, "iamInstanceProfile", "arn"))
		b.objects(sub(inst, "networkInterfaceSet", "items"), func(n *fastjson.Value) {
			b.addValues(toRelated, sub(n, "networkInterfaceId"), sub(n, "vpcId"), sub(n, "subnetId"))
			b.objects(sub(n, "groupSet", "items"), func(g *fastjson.Value) { b.addValue(toRelated, sub(g, "groupId")) })
		})
	})
	b.each([]string{"requestParameters", "revokedSecurityGroupRuleSet", "items"}, func(o *fastjson.Value) {
		b.addValues(toRelated, sub(o, "securityGroupRuleId"), sub(o, "groupId"))
	})
}

// objects calls fn with each element of the array v that remove-nulls
// keeps; an element that is not an object fails the pass.
func (b *entityBuilder) objects(v *fastjson.Value, fn func(o *fastjson.Value)) {
	for _, el := range b.list(v) {
		if b.ent.failed {
			return
		}
		if missing(el) {
			continue
		}
		if el.Type() != fastjson.TypeObject {
			b.ent.failed = true
			return
		}
		fn(el)
	}
}

// addList is addValues over a JSON array: remove-nulls has taken the
// absent elements out of it before the script runs.
func (b *entityBuilder) addList(to entitySet, v *fastjson.Value) {
	for _, el := range b.list(v) {
		if missing(el) {
			continue
		}
		if !b.addValue(to, el) {
			return
		}
	}
}

// sendCommandTargets: the instance ids, else the values of every target
// selector together; "*" alone stands for the whole account.
func sendCommandTargets(b *entityBuilder) {
	ids := b.ent.ids[:0]
	defer func() { b.ent.ids = ids[:0] }()
	for _, v := range b.list(b.e.get("requestParameters", "instanceIds")) {
		if !missing(v) {
			ids = append(ids, v)
		}
	}
	if len(ids) == 0 {
		b.objects(b.e.get("requestParameters", "targets"), func(t *fastjson.Value) {
			vals := t.Get("values")
			if missing(vals) {
				b.ent.failed = true // target.values.stream() on null
				return
			}
			for _, v := range b.list(vals) {
				if !missing(v) {
					ids = append(ids, v)
				}
			}
		})
	}
	if len(ids) == 1 && string(ids[0].GetStringBytes()) == "*" {
		b.addValue(toTarget, b.e.get("recipientAccountId"))
		return
	}
	b.addValues(toTarget, ids...)
}

// assumeRoleActor: on sts AssumeRole the actor is the caller's identity as
// the role's trust policy sees it.
func assumeRoleActor(b *entityBuilder) {
	switch b.e.str1("userIdentity", "type") {
	case "AWSService":
		b.setActor("userIdentity", "invokedBy")
	case "AssumedRole":
		b.setActor("userIdentity", "sessionContext", "sessionIssuer", "arn")
	default:
		b.setActor("userIdentity", "arn")
	}
}

// setActor replaces the actor, with none when the path holds nothing.
func (b *entityBuilder) setActor(p ...string) {
	s, ok, bad := b.str(p...)
	if bad {
		b.ent.failed = true
	}
	b.ent.actor = ""
	if ok {
		b.ent.actor = s
	}
}

// entities runs the pass once per event.
func (e *Event) entities() *entities {
	ent := &e.ent
	if ent.done {
		return ent
	}
	ent.done = true
	ent.failed = false
	ent.related, ent.target = ent.related[:0], ent.target[:0]
	ent.userT, ent.hostT, ent.serviceT, ent.genericT, ent.hostIDs = ent.userT[:0], ent.hostT[:0], ent.serviceT[:0], ent.genericT[:0], ent.hostIDs[:0]
	ent.actor, ent.actorField, ent.userEntity = "", actorNone, ""
	if ent.seen == nil {
		ent.seen, ent.seenTarget = map[string]struct{}{}, map[string]struct{}{}
	}
	clear(ent.seen)
	clear(ent.seenTarget)
	// The script runs only on records with an eventName.
	if missing(e.get("eventName")) {
		return ent
	}
	// The builder lives in the event: on the heap already, so that the
	// pass allocates nothing.
	e.entB = entityBuilder{e: e, ent: ent}
	e.deriveEntities(&e.entB)
	if ent.failed {
		ent.related, ent.target, ent.actor = ent.related[:0], ent.target[:0], ""
		ent.userT, ent.hostT, ent.serviceT, ent.genericT, ent.hostIDs = ent.userT[:0], ent.hostT[:0], ent.serviceT[:0], ent.genericT[:0], ent.hostIDs[:0]
	}
	return ent
}

func (e *Event) deriveEntities(b *entityBuilder) {
	ent := b.ent
	b.setActor("userIdentity", "arn")
	if ent.actor == "" {
		b.setActor("userIdentity", "onBehalfOf", "userId")
	}
	for _, p := range pIdentityRelated {
		b.addField(toRelated, p)
	}
	if e.str1("userIdentity", "type") == "IdentityCenterUser" {
		b.addField(toRelated, []string{"userIdentity", "onBehalfOf", "identityStoreArn"})
	}
	resources := e.get("resources")
	// Resources' ARNs, under their own key only (not "arn").
	b.objects(resources, func(r *fastjson.Value) { b.addValue(toRelated, sub(r, "ARN")) })
	src, srcOK, srcBad := b.str("eventSource")
	name, _, nameBad := b.str("eventName")
	if srcBad || nameBad {
		ent.failed = true
	}
	if en, ok := enrichments[src]; ok && srcOK && !ent.failed {
		for _, p := range en.related {
			b.addField(toRelated, p)
		}
		if en.lists != nil {
			en.lists(b)
		}
		for _, r := range en.targets {
			if !r.matches(name) {
				continue
			}
			for _, p := range r.paths {
				b.addField(toTarget, p)
			}
			if r.resources {
				b.objects(resources, func(o *fastjson.Value) { b.addValue(toTarget, sub(o, "ARN")) })
			}
			if r.special != nil {
				r.special(b)
			}
			break
		}
	}
	if ent.failed {
		return
	}
	slices.SortFunc(ent.target, compareUTF16)
	for _, t := range ent.target {
		switch classifyTarget(t) {
		case actorUser:
			ent.userT = append(ent.userT, t)
		case actorHost:
			ent.hostT = append(ent.hostT, t)
			if id, ok := instanceID(t); ok && !slices.Contains(ent.hostIDs, id) {
				ent.hostIDs = append(ent.hostIDs, id)
			}
		case actorService:
			ent.serviceT = append(ent.serviceT, t)
		default:
			ent.genericT = append(ent.genericT, t)
		}
		b.addString(toRelated, t)
	}
	slices.SortFunc(ent.hostIDs, compareUTF16)
	slices.SortFunc(ent.related, compareUTF16)
	if ent.actor != "" {
		ent.actorField, ent.userEntity = classifyActor(ent.actor, e.str1("userIdentity", "type"), e.str1("userIdentity", "sessionContext", "sessionIssuer", "arn"))
	}
}

func (r *targetRule) matches(name string) bool {
	for _, n := range r.names {
		if name == n || r.contains && strings.Contains(name, n) {
			return true
		}
	}
	return false
}

// Resource types by class, as the script's parameters list them.
var (
	userResourceTypes = map[string]bool{"user": true, "role": true, "assumed-role": true, "federated-user": true,
		"instance-profile": true, "mfa": true, "serialNumber": true}
	serviceResourceTypes = map[string]bool{"stack": true, "stack-set": true, "trail": true, "configuration-recorder": true,
		"file-system": true, "mount-target": true, "rule": true, "detector": true, "key": true, "function": true,
		"log-group": true, "log-stream": true, "alarm": true, "db": true, "cluster": true, "global-cluster": true,
		"trust-anchor": true, "resolver-query-log-config": true, "secret": true, "parameter": true, "document": true,
		"session": true, "webacl": true, "rulegroup": true, "ipset": true, "topic": true, "model": true,
		"loadbalancer": true, "table": true, "group": true, "policy": true, "security-group": true,
		"network-interface": true, "vpc": true, "subnet": true, "network-acl": true, "dhcp-options": true}
	serviceIDPrefixes = []string{"sg-", "sgr-", "eni-", "vpc-", "subnet-", "acl-", "rtb-", "igw-", "nat-", "vpce-", "tgw-", "pcx-"}
)

// arnParts returns the service (third part), the sixth part and its
// resource type (up to a '/' past its first byte) of an ARN that has at
// least six colon-separated parts.
func arnParts(s string) (service, sixth, resourceType string, ok bool) {
	rest := s
	for n := range 5 {
		i := strings.IndexByte(rest, ':')
		if i < 0 {
			return "", "", "", false
		}
		if n == 2 {
			service = rest[:i]
		}
		rest = rest[i+1:]
	}
	sixth, _, _ = strings.Cut(rest, ":")
	resourceType = sixth
	if i := strings.IndexByte(sixth, '/'); i > 0 {
		resourceType = sixth[:i]
	}
	return service, sixth, resourceType, true
}

func serviceLinked(s string) bool {
	return strings.Contains(s, "/AWSServiceRoleFor") || strings.Contains(s, "/aws-service-role/")
}

// classifyTarget puts a target in one class: user, host, service, or
// generic (actorGeneric) for bare names and account ids.
func classifyTarget(t string) actorClass {
	if strings.HasPrefix(t, "arn:") {
		svc, _, rt, ok := arnParts(t)
		switch {
		case !ok:
		case serviceLinked(t):
			return actorService
		case userResourceTypes[rt]:
			return actorUser
		case rt == "instance":
			return actorHost
		case serviceResourceTypes[rt], svc == "s3":
			return actorService
		}
		return actorGeneric
	}
	switch {
	case len(t) == 20 && strings.HasPrefix(t, "AKIA"):
		return actorUser
	case strings.HasPrefix(t, "i-"):
		return actorHost
	}
	for _, p := range serviceIDPrefixes {
		if strings.HasPrefix(t, p) {
			return actorService
		}
	}
	return actorGeneric
}

// instanceID is host.target.id's value for a host target: the bare EC2
// instance id.
func instanceID(t string) (string, bool) {
	if strings.HasPrefix(t, "arn:") {
		svc, sixth, _, ok := arnParts(t)
		if !ok || svc != "ec2" {
			return "", false
		}
		id, ok := strings.CutPrefix(sixth, "instance/")
		if !ok {
			return "", false
		}
		t = id
	}
	return t, strings.HasPrefix(t, "i-")
}

// classifyActor: the identity type decides first, then the ARN's resource
// type, then an instance id; user.entity.id is the role ARN for every
// session of an assumed role (8.9.0).
func classifyActor(actor, identityType, issuerARN string) (actorClass, string) {
	uid := actor
	if identityType == "AssumedRole" && issuerARN != "" {
		uid = issuerARN
	}
	switch {
	case identityType == "AWSService", serviceLinked(actor):
		return actorService, ""
	case identityType == "IAMUser" || identityType == "Root" || identityType == "AssumedRole":
		return actorUser, uid
	}
	if strings.HasPrefix(actor, "arn:") {
		if _, _, rt, ok := arnParts(actor); ok {
			switch rt {
			case "user", "role", "assumed-role", "federated-user":
				return actorUser, uid
			case "instance":
				return actorHost, ""
			}
		}
	}
	if strings.HasPrefix(actor, "i-") {
		return actorHost, ""
	}
	return actorGeneric, ""
}

// compareUTF16 orders strings as Java's String.compareTo does, by UTF-16
// code units: the order of code points, but for a character beyond U+FFFF
// (a surrogate pair, D800-DFFF) against one in U+E000-U+FFFF.
func compareUTF16(a, b string) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	if i == len(a) || i == len(b) {
		return len(a) - len(b)
	}
	// Back up to the start of the rune that differs.
	for i > 0 && !utf8.RuneStart(a[i]) {
		i--
	}
	ra, _ := utf8.DecodeRuneInString(a[i:])
	rb, _ := utf8.DecodeRuneInString(b[i:])
	if ka, kb := utf16Key(ra), utf16Key(rb); ka != kb {
		return int(ka) - int(kb)
	}
	return strings.Compare(a[i:], b[i:]) // invalid UTF-8: by bytes

}

// utf16Key maps a rune to an integer that orders like its UTF-16 form.
func utf16Key(r rune) int32 {
	if r >= 0x10000 {
		// The pair's first unit is D800-DBFF; the rest orders as r does.
		return 0xD800<<10 + (r - 0x10000)
	}
	return r << 10
}
