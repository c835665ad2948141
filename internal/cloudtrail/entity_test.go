package cloudtrail

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

// identities are a userIdentity of each type, as CloudTrail writes them.
var identities = []struct{ name, json string }{
	{"IAMUser", `{"type":"IAMUser","principalId":"AIDAEXAMPLEALICE0001","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","accessKeyId":"AKIAEXAMPLEALICE0001","userName":"alice"}`},
	{"AssumedRole", `{"type":"AssumedRole","principalId":"AROAEXAMPLEADMIN0001:carol@example.com","arn":"arn:aws:sts::111122223333:assumed-role/AdminRole/carol@example.com","accountId":"111122223333","accessKeyId":"ASIAEXAMPLECAROL0001","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAEXAMPLEADMIN0001","arn":"arn:aws:iam::111122223333:role/AdminRole","accountId":"111122223333","userName":"AdminRole"},"attributes":{"creationDate":"2026-03-01T09:00:00Z","mfaAuthenticated":"false"},"ec2RoleDelivery":"2.0"}}`},
	{"AssumedRole (EC2 instance role)", `{"type":"AssumedRole","principalId":"AROAEXAMPLEEC2000001:i-0abc123def4567890","arn":"arn:aws:sts::111122223333:assumed-role/ec2-app/i-0abc123def4567890","accountId":"111122223333","accessKeyId":"ASIAEXAMPLEEC2000001","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAEXAMPLEEC2000001","arn":"arn:aws:iam::111122223333:role/ec2-app","accountId":"111122223333","userName":"ec2-app"},"attributes":{"creationDate":"20260301T090000Z","mfaAuthenticated":"false"},"ec2RoleDelivery":"2.0"}}`},
	{"AssumedRole (service-linked)", `{"type":"AssumedRole","principalId":"AROAEXAMPLECONFIG001:AWSConfig-Describe","arn":"arn:aws:sts::111122223333:assumed-role/AWSServiceRoleForConfig/AWSConfig-Describe","accountId":"111122223333","accessKeyId":"ASIAEXAMPLECONFIG001","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAEXAMPLECONFIG001","arn":"arn:aws:iam::111122223333:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig","accountId":"111122223333","userName":"AWSServiceRoleForConfig"}}}`},
	{"AssumedRole (no issuer)", `{"type":"AssumedRole","principalId":"AROAEXAMPLENOISSUER1:s","arn":"arn:aws-cn:sts::111122223333:assumed-role/cn-role/s","accountId":"111122223333"}`},
	{"Root", `{"type":"Root","principalId":"111122223333","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333","accessKeyId":"ASIAEXAMPLEROOT00001"}`},
	{"FederatedUser", `{"type":"FederatedUser","principalId":"111122223333:dave","arn":"arn:aws:sts::111122223333:federated-user/dave","accountId":"111122223333","accessKeyId":"ASIAEXAMPLEDAVE00001","sessionContext":{"sessionIssuer":{"type":"IAMUser","principalId":"AIDAEXAMPLEFED000001","arn":"arn:aws:iam::111122223333:user/federator","accountId":"111122223333","userName":"federator"}}}`},
	{"WebIdentityUser", `{"type":"WebIdentityUser","principalId":"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com:sts.amazonaws.com:repo:example-org/deploy:ref:refs/heads/main","userName":"repo:example-org/deploy:ref:refs/heads/main","identityProvider":"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"}`},
	{"SAMLUser", `{"type":"SAMLUser","principalId":"SAMPLEnameQualifier:erin@example.com","userName":"erin@example.com","identityProvider":"SAMPLEnameQualifier"}`},
	{"AWSService", `{"type":"AWSService","invokedBy":"lambda.amazonaws.com"}`},
	{"IdentityCenterUser", `{"type":"IdentityCenterUser","arn":"","accountId":"111122223333","onBehalfOf":{"userId":"906754a8-example-frank","identityStoreArn":"arn:aws:identitystore::111122223333:identitystore/d-9067EXAMPLE"},"credentialId":"cred-1"}`},
	{"AWSAccount", `{"type":"AWSAccount","principalId":"AIDAEXAMPLEPARTNER01","accountId":"444455556666"}`},
	{"Unknown", `{"type":"Unknown","principalId":"AIDAEXAMPLEUNKNOWN01","userName":"someone"}`},
	{"instance ARN", `{"type":"Unknown","arn":"arn:aws:ec2:us-east-1:111122223333:instance/i-0abc123def4567890"}`},
	{"instance id", `{"type":"Unknown","arn":"i-0abc123def4567890"}`},
}

// entityEvents are, for each event name the pipeline derives targets for
// (per eventSource), one record's event-specific members; the identity is
// AssumedRole's. Values look like the ones CloudTrail writes.
var entityEvents = []struct{ source, name, json string }{
	{"cloudformation", "CreateStackSet", `"responseElements":{"stackSetId":"payments-stackset:0b7a6c54-example"}`},
	{"cloudformation", "CreateStack", `"responseElements":{"stackId":"arn:aws:cloudformation:us-east-1:111122223333:stack/payments/0b7a6c54-example"}`},
	{"cloudtrail", "DeleteTrail", `"requestParameters":{"name":"arn:aws:cloudtrail:us-east-1:111122223333:trail/org-trail"}`},
	{"cloudtrail", "StopLogging", `"requestParameters":{"name":"org-trail"}`},
	{"cloudtrail", "DescribeTrails", `"requestParameters":{"trailNameList":[]}`},
	{"cloudtrail", "CreateTrail", `"requestParameters":{"name":"org-trail","s3BucketName":"trail-bucket"},"responseElements":{"name":"org-trail","trailARN":"arn:aws:cloudtrail:us-east-1:111122223333:trail/org-trail","kmsKeyId":"arn:aws:kms:us-east-1:111122223333:key/1234abcd-example"}`},
	{"config", "StopConfigurationRecorder", `"requestParameters":{"configurationRecorderName":"default"}`},
	{"config", "StartConfigurationRecorder", `"requestParameters":{"configurationRecorderName":"default"}`},
	{"ec2-instance-connect", "SendSSHPublicKey", `"requestParameters":{"instanceId":"i-0abc123def4567890","instanceOSUser":"ec2-user"}`},
	{"ec2-instance-connect", "SendSerialConsoleSSHPublicKey", `"requestParameters":{"instanceId":"i-0abc123def4567890","serialPort":0}`},
	{"ec2", "AuthorizeSecurityGroupIngress", `"requestParameters":{"groupId":"sg-0123456789abcdef0"},"responseElements":{"securityGroupRuleSet":{"items":[{"groupId":"sg-0123456789abcdef0","securityGroupRuleId":"sgr-0aaa"},{"groupId":"sg-0123456789abcdef0","securityGroupRuleId":"sgr-0bbb","referencedGroupInfo":{"groupId":"sg-0fedcba9876543210"}}]}}`},
	{"ec2", "AuthorizeSecurityGroupEgress", `"requestParameters":{"groupId":"sg-0123456789abcdef0"},"responseElements":{"securityGroupRuleSet":{"items":[{"groupId":"sg-0123456789abcdef0","referencedGroupInfo":{"groupId":"sg-0fedcba9876543210"},"securityGroupRuleId":"sgr-0ccc"}]}}`},
	{"ec2", "CreateTrafficMirrorFilter", `"responseElements":{"CreateTrafficMirrorFilterResponse":{"trafficMirrorFilter":{"trafficMirrorFilterId":"tmf-0123456789abcdef0"}}}`},
	{"ec2", "CreateTrafficMirrorFilterRule", `"responseElements":{"CreateTrafficMirrorFilterRuleResponse":{"trafficMirrorFilterRule":{"trafficMirrorFilterRuleId":"tmfr-0123456789abcdef0"}}}`},
	{"ec2", "CreateTrafficMirrorSession", `"responseElements":{"CreateTrafficMirrorSessionResponse":{"trafficMirrorSession":{"trafficMirrorSessionId":"tms-0123456789abcdef0"}}}`},
	{"ec2", "CreateTrafficMirrorTarget", `"responseElements":{"CreateTrafficMirrorTargetResponse":{"trafficMirrorTarget":{"trafficMirrorTargetId":"tmt-0123456789abcdef0"}}}`},
	{"ec2", "DeleteFlowLogs", `"requestParameters":{"DeleteFlowLogsRequest":{"FlowLogId":{"content":"fl-0123456789abcdef0","tag":1}}}`},
	{"ec2", "DeleteNetworkAcl", `"requestParameters":{"networkAclId":"acl-0123456789abcdef0"}`},
	{"ec2", "DeleteNetworkAclEntry", `"requestParameters":{"networkAclId":"acl-0123456789abcdef0","ruleNumber":100,"egress":false}`},
	{"ec2", "GetPasswordData", `"requestParameters":{"instanceId":"i-0abc123def4567890"}`},
	{"ec2", "ModifyImageAttribute", `"requestParameters":{"imageId":"ami-0123456789abcdef0"}`},
	{"ec2", "ModifySnapshotAttribute", `"requestParameters":{"snapshotId":"snap-0123456789abcdef0"}`},
	{"ec2", "DescribeSecurityGroups", `"requestParameters":{"groupSet":{"items":[{"groupId":"sg-0123456789abcdef0"}]}}`},
	{"ec2", "DescribeNetworkInterfaces", `"requestParameters":{"networkInterfaceIdSet":{}}`},
	{"ec2", "DescribeRegions", `"requestParameters":{"regionSet":{}}`},
	{"ec2", "DescribeVpcs", `"requestParameters":{"vpcSet":{"items":[{"vpcId":"vpc-0123456789abcdef0"}]}}`},
	{"ec2", "DescribeNetworkAcls", `"requestParameters":{"networkAclIdSet":{}}`},
	{"ec2", "DescribeVolumes", `"requestParameters":{"volumeSet":{}}`},
	// Two instances in one subnet: Elastic's addValues stops at the second
	// one's subnet, so its vpc, id, image and profile are not added.
	{"ec2", "RunInstances", `"requestParameters":{"instancesSet":{"items":[{"imageId":"ami-0123456789abcdef0","minCount":2}]}},"responseElements":{"reservationId":"r-0123456789abcdef0","instancesSet":{"items":[{"instanceId":"i-0aaa1111111111111","imageId":"ami-0123456789abcdef0","subnetId":"subnet-0aaa","vpcId":"vpc-0aaa","iamInstanceProfile":{"arn":"arn:aws:iam::111122223333:instance-profile/web"},"networkInterfaceSet":{"items":[{"networkInterfaceId":"eni-0aaa","subnetId":"subnet-0aaa","vpcId":"vpc-0aaa","groupSet":{"items":[{"groupId":"sg-0aaa"}]}}]}},{"instanceId":"i-0bbb2222222222222","imageId":"ami-0fedcba9876543210","subnetId":"subnet-0aaa","vpcId":"vpc-0bbb"}]}}`},
	{"ec2", "RevokeSecurityGroupIngress", `"requestParameters":{"groupId":"sg-0123456789abcdef0","revokedSecurityGroupRuleSet":{"items":[{"securityGroupRuleId":"sgr-0ddd","groupId":"sg-0123456789abcdef0"}]}}`},
	{"elasticfilesystem", "DeleteFileSystem", `"requestParameters":{"fileSystemId":"fs-0123456789abcdef0"}`},
	{"elasticfilesystem", "DeleteMountTarget", `"requestParameters":{"mountTargetId":"fsmt-0123456789abcdef0"}`},
	{"events", "DeleteRule", `"requestParameters":{"name":"nightly-export"}`},
	{"guardduty", "CreateDetector", `"requestParameters":{"enable":true},"responseElements":{"detectorId":"12abc34d567e8fa901bc2d34e56789f0"}`},
	{"guardduty", "DeleteDetector", `"requestParameters":{"detectorId":"12abc34d567e8fa901bc2d34e56789f0"}`},
	{"iam", "AttachGroupPolicy", `"requestParameters":{"groupName":"admins","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}`},
	{"iam", "AttachRolePolicy", `"requestParameters":{"roleName":"payments-api","policyArn":"arn:aws:iam::111122223333:policy/payments-write"}`},
	{"iam", "ListAttachedRolePolicies", `"requestParameters":{"roleName":"payments-api"}`},
	{"iam", "UpdateAssumeRolePolicy", `"requestParameters":{"roleName":"payments-api","policyDocument":"{}"}`},
	{"iam", "AttachUserPolicy", `"requestParameters":{"userName":"bob","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}`},
	{"iam", "CreateAccessKey", `"requestParameters":{"userName":"bob"},"responseElements":{"accessKey":{"userName":"bob","accessKeyId":"AKIAEXAMPLEBOB000001","status":"Active"}}`},
	{"iam", "CreateUser", `"requestParameters":{"userName":"bob"},"responseElements":{"user":{"userName":"bob","userId":"AIDAEXAMPLEBOB000001","arn":"arn:aws:iam::111122223333:user/bob"}}`},
	{"iam", "DeactivateMFADevice", `"requestParameters":{"userName":"bob","serialNumber":"arn:aws:iam::111122223333:mfa/bob"}`},
	{"iam", "DeleteVirtualMFADevice", `"requestParameters":{"serialNumber":"arn:aws:iam::111122223333:mfa/bob"}`},
	{"iam", "GetPolicy", `"requestParameters":{"policyArn":"arn:aws:iam::111122223333:policy/payments-write"}`},
	{"iam", "CreatePolicy", `"requestParameters":{"policyName":"payments-write"},"responseElements":{"policy":{"arn":"arn:aws:iam::111122223333:policy/payments-write","policyName":"payments-write"}}`},
	{"iam", "ListRoles", `"requestParameters":{"maxItems":100}`},
	{"iam", "ListUsers", `"requestParameters":{"maxItems":100}`},
	{"kms", "DisableKey", `"requestParameters":{"keyId":"1234abcd-example"},"resources":[{"accountId":"111122223333","type":"AWS::KMS::Key","ARN":"arn:aws:kms:us-east-1:111122223333:key/1234abcd-example"}]`},
	{"kms", "ScheduleKeyDeletion", `"requestParameters":{"keyId":"1234abcd-example","pendingWindowInDays":7},"responseElements":{"keyId":"arn:aws:kms:us-east-1:111122223333:key/1234abcd-example"},"resources":[{"accountId":"111122223333","type":"AWS::KMS::Key","ARN":"arn:aws:kms:us-east-1:111122223333:key/1234abcd-example"}]`},
	{"lambda", "AddPermission20150331v2", `"requestParameters":{"functionName":"payments-fn","principal":"*"}`},
	{"lambda", "ListFunctions20150331", `"requestParameters":{}`},
	// The same subnet twice stops the subnet list, as addValues does.
	{"lambda", "CreateFunction20150331", `"requestParameters":{"functionName":"payments-fn"},"responseElements":{"functionName":"payments-fn","functionArn":"arn:aws:lambda:us-east-1:111122223333:function:payments-fn","role":"arn:aws:iam::111122223333:role/payments-fn","vpcConfig":{"securityGroupIds":["sg-0aaa"],"subnetIds":["subnet-0aaa","subnet-0aaa","subnet-0bbb"]}}`},
	{"logs", "DeleteLogGroup", `"requestParameters":{"logGroupName":"/aws/lambda/payments-fn"}`},
	{"logs", "DeleteLogStream", `"requestParameters":{"logGroupName":"/aws/lambda/payments-fn","logStreamName":"2026/03/01/[$LATEST]abc"}`},
	{"monitoring", "DeleteAlarms", `"requestParameters":{"alarmNames":["cpu-high","disk-full"]}`},
	{"rds", "DeleteDBCluster", `"responseElements":{"dBClusterArn":"arn:aws:rds:us-east-1:111122223333:cluster:payments"}`},
	{"rds", "ModifyDBCluster", `"responseElements":{"dBClusterArn":"arn:aws:rds:us-east-1:111122223333:cluster:payments"}`},
	{"rds", "StopDBCluster", `"responseElements":{"dBClusterArn":"arn:aws:rds:us-east-1:111122223333:cluster:payments"}`},
	{"rds", "DeleteDBInstance", `"requestParameters":{"dBInstanceIdentifier":"payments-db"},"responseElements":{"dBInstanceArn":"arn:aws:rds:us-east-1:111122223333:db:payments-db","dBInstanceIdentifier":"payments-db"}`},
	{"rds", "ModifyDBInstance", `"responseElements":{"dBInstanceArn":"arn:aws:rds:us-east-1:111122223333:db:payments-db"}`},
	{"rds", "RestoreDBInstanceFromDBSnapshot", `"responseElements":{"dBInstanceArn":"arn:aws:rds:us-east-1:111122223333:db:payments-db","dBSubnetGroup":{"vpcId":"vpc-0aaa","subnets":[{"subnetIdentifier":"subnet-0aaa"},{"subnetIdentifier":"subnet-0bbb"}]},"vpcSecurityGroups":[{"vpcSecurityGroupId":"sg-0aaa","status":"active"}]}`},
	{"rds", "RestoreDBInstanceFromS3", `"responseElements":{"dBInstanceArn":"arn:aws:rds:us-east-1:111122223333:db:payments-db"}`},
	{"rds", "StopDBInstance", `"responseElements":{"dBInstanceArn":"arn:aws:rds:us-east-1:111122223333:db:payments-db"}`},
	{"rds", "DeleteGlobalCluster", `"responseElements":{"globalClusterArn":"arn:aws:rds::111122223333:global-cluster:payments-global"}`},
	{"rds", "ModifyDBClusterSnapshotAttribute", `"responseElements":{"dBClusterSnapshotIdentifier":"payments-snap"}`},
	{"rds", "ModifyDBSnapshotAttribute", `"responseElements":{"dBSnapshotIdentifier":"payments-db-snap"}`},
	{"rds", "DescribeDBInstances", `"requestParameters":{}`},
	{"rolesanywhere", "CreateTrustAnchor", `"responseElements":{"trustAnchor":{"trustAnchorArn":"arn:aws:rolesanywhere:us-east-1:111122223333:trust-anchor/0b7a6c54-example"}}`},
	{"route53resolver", "DeleteResolverQueryLogConfig", `"responseElements":{"resolverQueryLogConfig":{"arn":"arn:aws:route53resolver:us-east-1:111122223333:resolver-query-log-config/rqlc-0123456789abcdef"}}`},
	{"s3", "CopyObject", `"requestParameters":{"bucketName":"reports"},"resources":[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::reports/2026/03/01.csv"},{"accountId":"111122223333","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::reports"}]`},
	{"s3", "PutBucketLogging", `"requestParameters":{"bucketName":"reports"},"resources":[{"accountId":"111122223333","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::reports"}]`},
	{"s3", "PutBucketVersioning", `"requestParameters":{"bucketName":"reports"},"resources":[{"accountId":"111122223333","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::reports"}]`},
	{"s3", "PutObject", `"requestParameters":{"bucketName":"reports","key":"2026/03/01.csv"},"resources":[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::reports/2026/03/01.csv"},{"accountId":"111122223333","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::reports"}]`},
	{"s3", "GetBucketPolicy", `"requestParameters":{"bucketName":"reports"},"resources":[{"accountId":"111122223333","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::reports"}]`},
	{"s3", "ListObjects", `"requestParameters":{"bucketName":"reports"},"resources":[{"accountId":"111122223333","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::reports"}]`},
	{"s3", "HeadObject", `"requestParameters":{"bucketName":"reports"},"resources":[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::reports/a"}]`},
	{"s3", "GetObject", `"requestParameters":{"bucketName":"reports"},"resources":[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::reports/a"}]`},
	// A resource with its ARN under "arn" reaches neither related.entity nor the targets.
	{"s3", "DeleteObject", `"requestParameters":{"bucketName":"reports"},"resources":[{"type":"AWS::S3::Object","arn":"arn:aws:s3:::reports/a"}]`},
	{"s3", "DeleteBucket", `"requestParameters":{"bucketName":"reports"},"resources":[{"accountId":"111122223333","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::reports"}]`},
	{"s3", "PutBucketReplication", `"requestParameters":{"bucketName":"reports","ReplicationConfiguration":{"Rule":{"Destination":{"Bucket":"arn:aws:s3:::reports-replica"}}}},"resources":[{"accountId":"111122223333","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::reports"}]`},
	{"s3", "ListBuckets", `"requestParameters":{"Host":"s3.amazonaws.com"}`},
	{"secretsmanager", "BatchGetSecretValue", `"requestParameters":{"secretIdList":["arn:aws:secretsmanager:us-east-1:111122223333:secret:db-pass-AbCdEf","api-token"]}`},
	{"secretsmanager", "GetSecretValue", `"requestParameters":{"secretId":"api-token"}`},
	{"signin", "ConsoleLogin", `"responseElements":{"ConsoleLogin":"Success"},"additionalEventData":{"MFAUsed":"No"}`},
	{"ssm", "GetParameter", `"requestParameters":{"name":"/payments/db-pass","withDecryption":true},"resources":[{"accountId":"111122223333","ARN":"arn:aws:ssm:us-east-1:111122223333:parameter/payments/db-pass"}]`},
	{"ssm", "GetParameters", `"requestParameters":{"names":["/payments/db-pass"]},"resources":[{"accountId":"111122223333","ARN":"arn:aws:ssm:us-east-1:111122223333:parameter/payments/db-pass"}]`},
	{"ssm", "CreateControlChannel", `"requestParameters":{"sessionId":"carol-0abc"},"resources":[{"accountId":"111122223333","ARN":"arn:aws:ssm:us-east-1:111122223333:session/carol-0abc"}]`},
	{"ssm", "OpenControlChannel", `"resources":[{"accountId":"111122223333","ARN":"arn:aws:ec2:us-east-1:111122223333:instance/i-0abc123def4567890"}]`},
	{"ssm", "StartSession", `"requestParameters":{"target":"i-0abc123def4567890"}`},
	{"ssm", "CreateDocument", `"requestParameters":{"name":"run-backup","documentType":"Command"}`},
	{"ssm", "TerminateSession", `"requestParameters":{"sessionId":"carol-0abc"}`},
	{"ssm", "OpenDataChannel", `"requestParameters":{"sessionId":"carol-0abc"}`},
	{"ssm", "SendCommand", `"requestParameters":{"instanceIds":["i-0aaa1111111111111","i-0bbb2222222222222"],"documentName":"AWS-RunShellScript"}`},
	{"ssm", "ListInstanceAssociations", `"requestParameters":{"instanceId":"i-0abc123def4567890"}`},
	{"sts", "AssumeRole", `"requestParameters":{"roleArn":"arn:aws:iam::111122223333:role/payments-api","roleSessionName":"deploy"},"responseElements":{"assumedRoleUser":{"arn":"arn:aws:sts::111122223333:assumed-role/payments-api/deploy","assumedRoleId":"AROAEXAMPLEPAY00001:deploy"},"credentials":{"accessKeyId":"ASIAEXAMPLEDEPLOY001"}}`},
	{"sts", "GetCallerIdentity", `"requestParameters":null`},
	{"sts", "GetSessionToken", `"requestParameters":{"serialNumber":"arn:aws:iam::111122223333:mfa/bob"},"additionalEventData":{"MFAIdentifier":"arn:aws:iam::111122223333:mfa/bob"}`},
	{"wafv2", "DeleteRuleGroup", `"requestParameters":{"id":"a1b2c3d4-example","name":"block-bad"}`},
	{"wafv2", "DeleteWebACL", `"requestParameters":{"id":"e5f6a7b8-example","name":"edge"}`},
	{"sns", "CreateTopic", `"requestParameters":{"name":"alerts"},"responseElements":{"topicArn":"arn:aws:sns:us-east-1:111122223333:alerts"}`},
	{"sns", "Subscribe", `"requestParameters":{"topicArn":"arn:aws:sns:us-east-1:111122223333:alerts","protocol":"email"}`},
	{"sns", "Publish", `"requestParameters":{"topicArn":"arn:aws:sns:us-east-1:111122223333:alerts"}`},
	{"bedrock", "Converse", `"requestParameters":{"modelId":"anthropic.claude-3-haiku-20240307-v1:0"}`},
	{"elasticloadbalancing", "DescribeLoadBalancers", `"requestParameters":null`},
	{"dynamodb", "ListTables", `"requestParameters":null`},
}

// record is a synthetic CloudTrail record of an event by an identity.
func record(identity, source, name, members string) string {
	if members != "" {
		members = "," + members
	}
	return `{"eventVersion":"1.10","userIdentity":` + identity + `,"eventTime":"2026-03-01T10:00:00Z","eventSource":"` + source +
		`.amazonaws.com","eventName":"` + name + `","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","userAgent":"aws-cli/2.15.0",` +
		`"requestID":"req-1","eventID":"11111111-0000-4000-8000-000000000001","readOnly":false,"eventType":"AwsApiCall",` +
		`"managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"` + members + `}`
}

// goldenFields are the fields the entity golden file pins.
var goldenFields = []string{
	"actor.entity.id", "user.entity.id", "service.entity.id", "host.entity.id", "entity.id",
	"target.entity.id", "user.target.entity.id", "host.target.entity.id", "host.target.id", "service.target.entity.id", "entity.target.id",
	"related.entity", "service.name", "user.id", "user.name", "user.email", "event.kind",
}

// The entity fields of synthetic events are pinned in a golden file (go
// test -update rewrites it): every identity type on the events whose
// actor the pipeline decides (AttachRolePolicy, AssumeRole,
// GetCallerIdentity), and every event name the pipeline derives targets
// for, by the identity of an assumed role.
func TestEntityGolden(t *testing.T) {
	type line struct {
		Event  string              `json:"event"`
		Fields map[string][]string `json:"fields"`
	}
	var lines []line
	add := func(label, rec string) {
		n := 0
		res := NewDecoder(Options{}).Decode([]byte(rec), func(ev *Event) {
			n++
			l := line{Event: label, Fields: map[string][]string{}}
			for _, f := range goldenFields {
				for _, v := range ev.Get(f, nil) {
					l.Fields[f] = append(l.Fields[f], v.Str)
				}
			}
			lines = append(lines, l)
		})
		if res.Err() != nil || n != 1 {
			t.Fatalf("%s: %d events, %v", label, n, res.Err())
		}
	}
	for _, id := range identities {
		for _, ev := range []struct{ source, name, members string }{
			{"iam", "AttachRolePolicy", `"requestParameters":{"roleName":"payments-api","policyArn":"arn:aws:iam::aws:policy/ReadOnlyAccess"}`},
			{"sts", "AssumeRole", `"requestParameters":{"roleArn":"arn:aws:iam::111122223333:role/payments-api","roleSessionName":"deploy"}`},
			{"sts", "GetCallerIdentity", ""},
		} {
			add(ev.source+" "+ev.name+" by "+id.name, record(id.json, ev.source, ev.name, ev.members))
		}
	}
	covered := map[string]bool{}
	for _, ev := range entityEvents {
		add(ev.source+" "+ev.name, record(identities[1].json, ev.source, ev.name, ev.json))
		covered[ev.source+".amazonaws.com "+ev.name] = true
	}
	// Every event name of the pipeline's target rules has its event.
	for src, en := range enrichments {
		for _, r := range en.targets {
			for _, n := range r.names {
				found := covered[src+" "+n]
				for c := range covered {
					found = found || r.contains && strings.HasPrefix(c, src+" ") && strings.Contains(c, n)
				}
				if !found {
					t.Errorf("no synthetic %s event of %s", n, src)
				}
			}
		}
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for _, l := range lines {
		if err := enc.Encode(l); err != nil {
			t.Fatal(err)
		}
	}
	got := b.String()
	const golden = "../../testdata/cloudtrail/entities.golden.ndjson"
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
		t.Errorf("entity fields differ from %s (run go test -update and review the diff):\n%s", golden, firstDiff(got, string(want)))
	}
}

// The pass itself, on what the golden file does not show well: Java's
// order, the stops of addValues, values of the wrong type, and the
// classification of targets and actors.
func TestEntities(t *testing.T) {
	role := identities[1].json
	cases := []struct {
		name, rec string
		want      map[string][]string // absent: no value
	}{
		{"UTF-16 order", record(role, "iam", "AttachUserPolicy", `"requestParameters":{"userName":"\uffe0x","policyArn":"\ud83d\ude00x"}`),
			map[string][]string{"entity.target.id": {"\U0001F600x", "\uffe0x"}}},
		{"duplicates once", record(role, "s3", "PutObject", `"requestParameters":{"bucketName":"b"},"resources":[{"ARN":"arn:aws:s3:::b"},{"ARN":"arn:aws:s3:::b"}]`),
			map[string][]string{"target.entity.id": {"arn:aws:s3:::b"}, "service.target.entity.id": {"arn:aws:s3:::b"}}},
		{"a number where a string is read", record(role, "iam", "AttachRolePolicy", `"requestParameters":{"roleName":12}`),
			map[string][]string{"related.entity": nil, "actor.entity.id": nil, "entity.target.id": nil, "event.kind": {"pipeline_error"}}},
		{"an object where a list is read", record(role, "monitoring", "DeleteAlarms", `"requestParameters":{"alarmNames":{"a":"b"}}`),
			map[string][]string{"related.entity": nil, "event.kind": {"pipeline_error"}}},
		{"a string resource", record(role, "kms", "DisableKey", `"resources":["arn:aws:kms:us-east-1:1:key/k"]`),
			map[string][]string{"related.entity": nil, "event.kind": {"pipeline_error"}}},
		{"ruleNumber as Java prints it", record(role, "ec2", "DeleteNetworkAclEntry", `"requestParameters":{"networkAclId":"acl-1","ruleNumber":1.5E2}`),
			map[string][]string{"entity.target.id": {"150.0"}, "service.target.entity.id": {"acl-1"}}},
		{"SendCommand on every instance", record(role, "ssm", "SendCommand", `"requestParameters":{"instanceIds":["*"]}`),
			map[string][]string{"entity.target.id": {"111122223333"}}},
		{"SendCommand by targets", record(role, "ssm", "SendCommand", `"requestParameters":{"targets":[{"key":"InstanceIds","values":["i-0aaa1111111111111"]},{"key":"tag:env","values":["prod","i-0aaa1111111111111","i-0ccc"]}]}`),
			map[string][]string{"host.target.entity.id": {"i-0aaa1111111111111"}, "host.target.id": {"i-0aaa1111111111111"}, "entity.target.id": {"prod"}}},
		{"SendCommand target without values", record(role, "ssm", "SendCommand", `"requestParameters":{"targets":[{"key":"InstanceIds"}]}`),
			map[string][]string{"related.entity": nil, "event.kind": {"pipeline_error"}}},
		{"access keys", record(role, "iam", "CreateAccessKey", `"requestParameters":{"userName":"ASIAEXAMPLE000000001"},"responseElements":{"accessKey":{"accessKeyId":"AKIAEXAMPLE000000001"}}`),
			map[string][]string{"user.target.entity.id": {"AKIAEXAMPLE000000001"}, "entity.target.id": {"ASIAEXAMPLE000000001"}}},
		{"short ARN", record(role, "sts", "AssumeRole", `"requestParameters":{"roleArn":"arn:aws:iam::role"}`),
			map[string][]string{"entity.target.id": {"arn:aws:iam::role"}, "user.target.entity.id": nil, "actor.entity.id": {"arn:aws:iam::111122223333:role/AdminRole"}}},
		{"service-linked target", record(role, "iam", "AttachRolePolicy", `"requestParameters":{"roleName":"arn:aws:iam::1:role/aws-service-role/x/AWSServiceRoleForX"}`),
			map[string][]string{"service.target.entity.id": {"arn:aws:iam::1:role/aws-service-role/x/AWSServiceRoleForX"}}},
		{"instance ARN of another service", record(role, "ssm", "OpenControlChannel", `"resources":[{"ARN":"arn:aws:ssm:us-east-1:1:instance/i-0aaa1111111111111"}]`),
			map[string][]string{"host.target.entity.id": {"arn:aws:ssm:us-east-1:1:instance/i-0aaa1111111111111"}, "host.target.id": nil}},
		{"no eventName, no entities", `{"eventVersion":"1.08","eventSource":"iam.amazonaws.com","userIdentity":` + identities[0].json + `}`,
			map[string][]string{"related.entity": nil, "actor.entity.id": nil}},
		{"AssumeRole by a session without issuer", record(identities[4].json, "sts", "AssumeRole", `"requestParameters":{"roleArn":"arn:aws:iam::111122223333:role/x"}`),
			map[string][]string{"actor.entity.id": nil, "user.entity.id": nil, "user.target.entity.id": {"arn:aws:iam::111122223333:role/x"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := 0
			NewDecoder(Options{}).Decode([]byte(c.rec), func(ev *Event) {
				n++
				for f, want := range c.want {
					var got []string
					for _, v := range ev.Get(f, nil) {
						got = append(got, v.Str)
					}
					if !slices.Equal(got, want) {
						t.Errorf("%s = %q, want %q", f, got, want)
					}
				}
			})
			if n != 1 {
				t.Fatalf("%d events", n)
			}
		})
	}
}

func TestCompareUTF16(t *testing.T) {
	ordered := []string{"", "A", "AB", "B", "a", "é", "\u4e00", "\U0001F600", "\U0001F601", "\uffe0", "\uffff"}
	for i, a := range ordered {
		for j, b := range ordered {
			got := compareUTF16(a, b)
			if (i < j) != (got < 0) || (i == j) != (got == 0) {
				t.Errorf("compareUTF16(%q, %q) = %d", a, b, got)
			}
		}
	}
}

// The fields 8.9.0 added or changed besides the entities, one case each.
func TestIdentityFields(t *testing.T) {
	id := func(typ, extra string) string { return `{"type":"` + typ + `"` + extra + `}` }
	cases := []struct {
		name, rec string
		want      map[string][]string
	}{
		{"creation date, basic format", record(identities[2].json, "sts", "GetCallerIdentity", ""),
			map[string][]string{"aws.cloudtrail.user_identity.session_context.creation_date": {"2026-03-01T09:00:00.000Z"}, "event.kind": {"event"}}},
		{"creation date, basic with millis", record(id("AssumedRole", `,"sessionContext":{"attributes":{"creationDate":"20131102T010628.123+0100"}}`), "sts", "GetCallerIdentity", ""),
			map[string][]string{"aws.cloudtrail.user_identity.session_context.creation_date": {"2013-11-02T00:06:28.123Z"}}},
		{"creation date unparseable", record(id("AssumedRole", `,"sessionContext":{"attributes":{"creationDate":"yesterday"}}`), "sts", "GetCallerIdentity", ""),
			map[string][]string{"aws.cloudtrail.user_identity.session_context.creation_date": nil, "event.kind": {"pipeline_error"}}},
		{"eventTime without seconds", strings.Replace(record(identities[0].json, "sts", "GetCallerIdentity", ""), "2026-03-01T10:00:00Z", "2026-03-01T10:00+01:00", 1),
			map[string][]string{"@timestamp": {"2026-03-01T09:00:00.000Z"}, "event.kind": {"event"}}},
		{"eventTime unparseable", strings.Replace(record(identities[0].json, "sts", "GetCallerIdentity", ""), "2026-03-01T10:00:00Z", "March 1st", 1),
			map[string][]string{"@timestamp": nil, "event.kind": {"pipeline_error"}}},
		{"UserName moved to user.name", record(identities[10].json, "signin", "UserAuthentication", `"additionalEventData":{"UserName":"frank@example.com","LoginTo":"https://x"}`),
			map[string][]string{"user.name": {"frank@example.com"}, "user.email": {"frank@example.com"}, "user.id": {"906754a8-example-frank"},
				"aws.cloudtrail.additional_eventdata": {"{LoginTo=https://x}"}, "aws.cloudtrail.flattened.additional_eventdata.UserName": nil,
				"related.user": {"906754a8-example-frank", "frank@example.com"}}},
		{"UserName stays when there is a user.name", record(identities[0].json, "signin", "UserAuthentication", `"additionalEventData":{"UserName":"x"}`),
			map[string][]string{"user.name": {"alice"}, "aws.cloudtrail.additional_eventdata": {"{UserName=x}"}, "aws.cloudtrail.flattened.additional_eventdata.UserName": {"x"}}},
		{"e-mail session name", record(identities[1].json, "sts", "GetCallerIdentity", ""),
			map[string][]string{"user.email": {"carol@example.com"}, "user.name": {"AdminRole"}}},
		{"session name in another partition", record(identities[4].json, "sts", "GetCallerIdentity", ""),
			map[string][]string{"related.user": {"s", "AROAEXAMPLENOISSUER1:s"}}},
		{"session ARN the grok cannot read", record(id("AssumedRole", `,"arn":"ARN:AWS:sts::1:assumed-role/r/s"`), "sts", "GetCallerIdentity", ""),
			map[string][]string{"related.user": nil, "event.kind": {"pipeline_error"}}},
		{"IdentityCenterUser session name", record(id("IdentityCenterUser", `,"arn":"arn:aws:sts::1:assumed-role/AWSReservedSSO_x/jo@example.com","onBehalfOf":{"userId":"u-1"}`), "sts", "GetCallerIdentity", ""),
			map[string][]string{"user.email": {"jo@example.com"}, "related.user": {"jo@example.com", "jo", "u-1"}}},
		{"service-linked role", record(identities[3].json, "s3", "GetBucketAcl", ""),
			map[string][]string{"service.name": {"config.amazonaws.com"}, "user.id": nil, "user.name": nil, "related.user": {"AWSConfig-Describe"}}},
		{"service-linked role invoked by", record(strings.Replace(identities[3].json, `"accountId"`, `"invokedBy":"securityhub.amazonaws.com","accountId"`, 1), "s3", "GetBucketAcl", ""),
			map[string][]string{"service.name": {"securityhub.amazonaws.com"}}},
		{"AWS service", record(identities[9].json, "kms", "Decrypt", ""),
			map[string][]string{"service.name": {"lambda.amazonaws.com"}, "user.id": nil}},
		{"console sign-in is no service", record(id("IAMUser", `,"principalId":"AIDA1","invokedBy":"signin.amazonaws.com","userName":"u"`), "iam", "ListUsers", ""),
			map[string][]string{"service.name": nil, "user.id": {"AIDA1"}, "user.name": {"u"}}},
		{"related ip and hosts", record(identities[0].json, "ec2", "StartInstances",
			`"requestParameters":{"instancesSet":{"items":[{"instanceId":"i-0aaa1111111111111"},{"instanceId":"i-short"}]},"computerName":"web-1"},"serviceEventDetails":{"sourceIpAddress":"2001:db8::1"},"resources":[{"ARN":"arn:aws:ec2:us-east-1:1:instance/i-0bbb2222222222222"}],"tlsDetails":{"clientProvidedHostHeader":"ec2.example.com"}`),
			map[string][]string{"related.ip": {"198.51.100.7", "2001:db8::1"}, "related.hosts": {"ec2.example.com", "web-1", "i-0bbb2222222222222", "i-0aaa1111111111111"}}},
		{"source host name", strings.Replace(record(identities[0].json, "iam", "ListUsers", ""), `"198.51.100.7"`, `"host.example.com"`, 1),
			map[string][]string{"related.hosts": {"host.example.com"}, "related.ip": nil}},
		{"no service name", strings.Replace(record(identities[0].json, "iam", "ListUsers", ""), `"iam.amazonaws.com"`, `"aws:s3"`, 1),
			map[string][]string{"cloud.service.name": nil}},
		{"shared event ID, addendum, key exchange", record(identities[0].json, "kms", "Decrypt",
			`"sharedEventID":"s-1","sharedEventId":"s-2","vpcEndpointAccountId":"2","addendum":{"reason":"DELIVERY_DELAY","updatedFields":"tlsDetails","originalEventID":"e-0"},"tlsDetails":{"tlsVersion":"TLSv1.3","keyExchange":"x25519"}`),
			map[string][]string{"aws.cloudtrail.shared_event_id": {"s-1"}, "aws.cloudtrail.vpc_endpoint_account_id": {"2"}, "aws.cloudtrail.addendum.reason": {"DELIVERY_DELAY"},
				"aws.cloudtrail.addendum.updated_fields": {"tlsDetails"}, "aws.cloudtrail.addendum.original_event_id": {"e-0"}, "aws.cloudtrail.tls_details.key_exchange": {"x25519"}}},
		{"placeholder tlsDetails", record(identities[0].json, "kms", "Decrypt", `"tlsDetails":{"tlsVersion":"tlsVersion","keyExchange":"keyExchange"}`),
			map[string][]string{"aws.cloudtrail.tls_details.key_exchange": nil}},
		{"userIdentity extras", record(id("AssumedRole", `,"arn":"arn:aws:sts::1:assumed-role/r/s","credentialId":"c","invokedByDelegate":{"accountId":"3"},"inScopeOf":{"issuerType":"AWS::Lambda::Function","credentialsIssuedTo":"arn:x","sourceArn":"arn:y","sourceAccount":"4"},"sessionContext":{"sourceIdentity":"si","assumedRoot":"true","signInSessionArn":"arn:z","webIdFederationData":{"federatedProvider":"fp","attributes":{"sub":"u"}}}`), "sts", "GetCallerIdentity", ""),
			map[string][]string{"aws.cloudtrail.user_identity.credential_id": {"c"}, "aws.cloudtrail.user_identity.invoked_by_delegate.account_id": {"3"},
				"aws.cloudtrail.user_identity.in_scope_of.issuer_type": {"AWS::Lambda::Function"}, "aws.cloudtrail.user_identity.in_scope_of.credentials_issued_to": {"arn:x"},
				"aws.cloudtrail.user_identity.in_scope_of.source_arn": {"arn:y"}, "aws.cloudtrail.user_identity.in_scope_of.source_account": {"4"},
				"aws.cloudtrail.user_identity.session_context.source_identity": {"si"}, "aws.cloudtrail.user_identity.session_context.assumed_root": {"true"},
				"aws.cloudtrail.user_identity.session_context.sign_in_session_arn":                       {"arn:z"},
				"aws.cloudtrail.user_identity.session_context.web_id_federation_data.federated_provider": {"fp"},
				"aws.cloudtrail.user_identity.session_context.web_id_federation_data.attributes.sub":     {"u"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := 0
			NewDecoder(Options{}).Decode([]byte(c.rec), func(ev *Event) {
				n++
				for f, want := range c.want {
					var got []string
					for _, v := range ev.Get(f, nil) {
						got = append(got, v.Str)
					}
					if !slices.Equal(got, want) {
						t.Errorf("%s = %q, want %q", f, got, want)
					}
				}
			})
			if n != 1 {
				t.Fatalf("%d events", n)
			}
		})
	}
}
