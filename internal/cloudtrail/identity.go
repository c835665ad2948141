package cloudtrail

import (
	"net/netip"
	"strings"

	"github.com/valyala/fastjson"
)

// The user identity and related.* fields (docs/cloudtrail-ecs.md, user
// identity and related fields), as the 8.9.0 pipeline derives them.

func (e *Event) identityType() string { return e.str1("userIdentity", "type") }

// serviceName is service.name: the AWS service acting, when the identity
// is one (type AWSService, or a session of a service-linked role). Such an
// actor gets no user.id and no user.name. invokedBy alone does not make a
// service: console sign-ins carry it too.
func (e *Event) serviceName() (string, bool) {
	if e.svc == 0 {
		e.svc = 1
		if s, ok := e.findServiceName(); ok {
			e.svc, e.svcName = 2, s
		}
	}
	return e.svcName, e.svc == 2
}

func (e *Event) findServiceName() (string, bool) {
	if missing(e.get("userIdentity")) {
		return "", false
	}
	// The pipeline reads these as Strings; another type fails its script,
	// which leaves the actor a user.
	invokedBy, ok, bad := e.stringAt("userIdentity", "invokedBy")
	if bad {
		return "", false
	}
	typ, _, bad := e.stringAt("userIdentity", "type")
	if bad {
		return "", false
	}
	switch typ {
	case "AWSService":
		return invokedBy, ok
	case "AssumedRole":
		issuer, _, bad := e.stringAt("userIdentity", "sessionContext", "sessionIssuer", "arn")
		if bad {
			return "", false
		}
		const marker = ":role/aws-service-role/"
		i := strings.Index(issuer, marker)
		if i < 0 {
			return "", false
		}
		if ok {
			return invokedBy, true
		}
		rest := issuer[i+len(marker):]
		if j := strings.IndexByte(rest, '/'); j > 0 {
			return rest[:j], true
		}
	}
	return "", false
}

// stringAt is the string at a path: ok when there is one, bad when the
// path holds a value of another type.
func (e *Event) stringAt(p ...string) (s string, ok, bad bool) {
	v := e.get(p...)
	if missing(v) {
		return "", false, false
	}
	if v.Type() != fastjson.TypeString {
		return "", false, true
	}
	b, _ := v.StringBytes()
	return b2s(b), true, false
}

func serviceNameGetter(e *Event, dst []Value) []Value {
	if s, ok := e.serviceName(); ok {
		dst = append(dst, StringValue(s))
	}
	return dst
}

func userID(e *Event, dst []Value) []Value {
	if _, svc := e.serviceName(); !svc {
		if v, ok := e.scalar(e.get("userIdentity", "principalId")); ok {
			return append(dst, v)
		}
	}
	if e.identityType() == "IdentityCenterUser" {
		if v, ok := e.scalar(e.get("userIdentity", "onBehalfOf", "userId")); ok {
			return append(dst, v)
		}
	}
	return dst
}

// identityName is user.name before UserAuthentication's rule: the role
// (or federating user) for AssumedRole and FederatedUser, otherwise
// userIdentity.userName; none for a service actor.
func (e *Event) identityName() (Value, bool) {
	if _, svc := e.serviceName(); svc {
		return Value{}, false
	}
	switch e.identityType() {
	case "AssumedRole", "FederatedUser":
		if v, ok := e.scalar(e.get("userIdentity", "sessionContext", "sessionIssuer", "userName")); ok {
			return v, true
		}
	}
	return e.scalar(e.get("userIdentity", "userName"))
}

// movedUserName: on UserAuthentication without a user.name, the pipeline
// moves additionalEventData.UserName to user.name, so that it is no
// longer in the additionalEventData payload.
func (e *Event) movedUserName() bool {
	if e.str1("eventName") != "UserAuthentication" || missing(e.get("additionalEventData", "UserName")) {
		return false
	}
	_, named := e.identityName()
	return !named
}

// name computes user.name (docs/cloudtrail-ecs.md, user identity).
func (e *Event) name() (Value, bool) {
	if v, ok := e.identityName(); ok {
		return v, true
	}
	if e.movedUserName() {
		return e.scalar(e.get("additionalEventData", "UserName"))
	}
	return Value{}, false
}

func userName(e *Event, dst []Value) []Value {
	if v, ok := e.name(); ok {
		dst = append(dst, v)
	}
	return dst
}

// userEmail: the session name when it is an address, else user.name when
// it is one (an '@' past its first character).
func userEmail(e *Event, dst []Value) []Value {
	if s, ok := e.sessionName(); ok && strings.IndexByte(s, '@') >= 0 {
		return append(dst, StringValue(s))
	}
	if v, ok := e.name(); ok && v.Kind == String && strings.IndexByte(v.Str, '@') > 0 {
		dst = append(dst, v)
	}
	return dst
}

// sessionName is the part after the last '/' of the session ARN of an
// AssumedRole, FederatedUser or IdentityCenterUser identity, in any
// partition (the pipeline's grok ^arn:[a-z0-9-]+:sts:.*/(.*)$); ok is
// false when there is none. grokFailed tells an ARN that the pipeline
// tries and fails to read, which makes its document a pipeline_error.
func (e *Event) sessionName() (name string, ok bool) {
	name, ok, _ = e.session()
	return name, ok
}

func (e *Event) session() (name string, ok, grokFailed bool) {
	switch e.identityType() {
	case "AssumedRole", "FederatedUser", "IdentityCenterUser":
	default:
		return "", false, false
	}
	arn, ok := e.str("userIdentity", "arn")
	if !ok || !strings.Contains(arn, ":sts:") || !strings.Contains(arn, "/") {
		return "", false, false
	}
	rest, ok := strings.CutPrefix(arn, "arn:")
	i := strings.IndexByte(rest, ':')
	if !ok || i <= 0 || !partition(rest[:i]) || !strings.HasPrefix(rest[i:], ":sts:") {
		return "", false, true
	}
	rest = rest[i+len(":sts:"):]
	j := strings.LastIndexByte(rest, '/')
	if j < 0 {
		return "", false, true
	}
	name = rest[j+1:]
	return name, name != "", false
}

// partition is [a-z0-9-]+.
func partition(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return s != ""
}

func relatedUser(e *Event, dst []Value) []Value {
	n := len(dst)
	add := func(v Value, ok bool) {
		if !ok {
			return
		}
		for _, w := range dst[n:] {
			if w.Str == v.Str {
				return
			}
		}
		dst = append(dst, StringValue(v.Str))
	}
	if s, ok := e.sessionName(); ok {
		add(StringValue(s), true)
		if i := strings.IndexByte(s, '@'); i > 0 {
			add(StringValue(s[:i]), true)
		}
	}
	add(e.scalar(e.get("requestParameters", "userName")))
	add(e.scalar(e.get("requestParameters", "newUserName")))
	add(e.scalar(e.get("responseElements", "user", "userId")))
	var ids [2]Value
	if id := userID(e, ids[:0]); len(id) > 0 {
		add(id[0], true)
	}
	add(e.name())
	add(e.scalar(e.get("userIdentity", "onBehalfOf", "userId")))
	return dst
}

// ipLiteral is the pipeline's convert to type ip: the whole string one
// IPv4 or IPv6 literal, without a zone.
func ipLiteral(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Zone() == ""
}

func relatedIP(e *Event, dst []Value) []Value {
	src, ok := e.stringOK("sourceIPAddress")
	if ok && ipLiteral(src) {
		dst = append(dst, StringValue(src))
	}
	if s, ok, _ := e.stringAt("serviceEventDetails", "sourceIpAddress"); ok && ipLiteral(s) && s != src {
		dst = append(dst, StringValue(s))
	}
	return dst
}

// stringAt without the type flag.
func (e *Event) stringOK(p ...string) (string, bool) {
	s, ok, _ := e.stringAt(p...)
	return s, ok
}

func relatedHosts(e *Event, dst []Value) []Value {
	n := len(dst)
	add := func(s string) {
		for _, w := range dst[n:] {
			if w.Str == s {
				return
			}
		}
		dst = append(dst, StringValue(s))
	}
	if s, ok := e.stringOK("tlsDetails", "clientProvidedHostHeader"); ok && e.tlsDetails() && !strings.HasSuffix(s, ".amazonaws.com") {
		add(s)
	}
	if s, ok := e.stringOK("sourceIPAddress"); ok && !ipLiteral(s) && strings.Contains(s, ".") && !strings.Contains(s, " ") && !strings.HasSuffix(s, ".amazonaws.com") {
		add(s)
	}
	if v, ok := e.scalar(e.get("requestParameters", "computerName")); ok {
		add(v.Str)
	}
	instance := func(v *fastjson.Value) {
		if v == nil || v.Type() != fastjson.TypeString {
			return
		}
		b, _ := v.StringBytes()
		if s := b2s(b); len(s) >= 10 && strings.HasPrefix(s, "i-") {
			add(s)
		}
	}
	e.resources(func(o *fastjson.Object) {
		arn := resValue(o, "arn")
		if arn == nil || arn.Type() != fastjson.TypeString {
			return
		}
		b, _ := arn.StringBytes()
		if s := b2s(b); strings.Contains(s, ":instance/") {
			id := s[strings.LastIndexByte(s, '/')+1:]
			if len(id) >= 10 && strings.HasPrefix(id, "i-") {
				add(id)
			}
		}
	})
	for _, key := range [...]string{"requestParameters", "responseElements"} {
		c := e.get(key)
		if c == nil || c.Type() != fastjson.TypeObject {
			continue
		}
		for _, k := range [...]string{"instanceId", "target", "resourceId"} {
			instance(c.Get(k))
		}
		if ids := c.Get("instanceIds"); ids != nil && ids.Type() == fastjson.TypeArray {
			a, _ := ids.Array()
			for _, v := range a {
				instance(v)
			}
		}
		if items := sub(c, "instancesSet", "items"); items != nil && items.Type() == fastjson.TypeArray {
			a, _ := items.Array()
			for _, it := range a {
				if it.Type() == fastjson.TypeObject {
					instance(it.Get("instanceId"))
				}
			}
		}
	}
	return dst
}

// cloudServiceName is the part of eventSource before ".amazonaws.com".
func cloudServiceName(e *Event, dst []Value) []Value {
	s, ok := e.stringOK("eventSource")
	if !ok || !strings.HasSuffix(s, ".amazonaws.com") {
		return dst
	}
	if i := strings.Index(s, ".amazonaws.com"); i > 0 {
		dst = append(dst, StringValue(s[:i]))
	}
	return dst
}

// Entity getters.

func entityList(pick func(*entities) []string) Getter {
	return func(e *Event, dst []Value) []Value {
		for _, s := range pick(e.entities()) {
			dst = append(dst, StringValue(s))
		}
		return dst
	}
}

func actorEntity(class actorClass) Getter {
	return func(e *Event, dst []Value) []Value {
		ent := e.entities()
		switch {
		case ent.actor == "":
		case class == actorNone: // actor.entity.id: every actor
			dst = append(dst, StringValue(ent.actor))
		case class == ent.actorField && class == actorUser:
			dst = append(dst, StringValue(ent.userEntity))
		case class == ent.actorField:
			dst = append(dst, StringValue(ent.actor))
		}
		return dst
	}
}

// kind is event.kind: pipeline_error where Elastic's pipeline records an
// error of a processor and goes on (docs/cloudtrail-ecs.md, pipeline
// errors).
func kind(e *Event, dst []Value) []Value {
	if e.pipelineError() {
		return append(dst, StringValue("pipeline_error"))
	}
	return append(dst, StringValue("event"))
}

func (e *Event) pipelineError() bool {
	if _, ok := e.str("eventTime"); ok && !e.tsOK {
		return true
	}
	if v := e.get("userIdentity", "sessionContext", "attributes", "creationDate"); !missing(v) {
		if s, ok := e.stringOK("userIdentity", "sessionContext", "attributes", "creationDate"); !ok || !validCreationDate(s) {
			return true
		}
	}
	if _, _, failed := e.session(); failed {
		return true
	}
	return e.entities().failed
}
