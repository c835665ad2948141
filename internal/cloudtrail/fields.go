package cloudtrail

import (
	"net/netip"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// The mapping is Elastic's CloudTrail pipeline as docs/cloudtrail-ecs.md
// lays it out.

// fieldDef is everything known of one field: how to compute it, and how
// its values sit in the document and in the record.
type fieldDef struct {
	get   Getter
	array bool      // rendered as a JSON array even with one value
	place Placement // where its values are in the record's text
}

// Placement says how a field's values sit in the raw record text, for a
// prefilter that looks for query values in records before parsing them.
type Placement uint8

const (
	// Computed: values are computed (categorization, Java toString,
	// lowercasing...) or may be numbers or booleans, so the record's text
	// says nothing of them.
	Computed Placement = iota
	// Whole: every value is an entire JSON string value of the record,
	// copied, never computed, so a value in a query on the field is text
	// that the raw record holds right after a quote.
	Whole
	// Substring: every value is part of a JSON string value of the record
	// (a session name cut from an ARN, "1.2" from "TLSv1.2").
	Substring
)

func (p Placement) String() string {
	switch p {
	case Whole:
		return "whole"
	case Substring:
		return "substring"
	}
	return "computed"
}

// PlacementOf is where the field's values are in the raw record. Every
// value under aws.cloudtrail.resources.* and aws.cloudtrail.flattened.*
// (and the other objects held whole) is a value of the record's own, and
// anything unknown is Computed.
func PlacementOf(field string) Placement {
	if f, ok := fieldTable[field]; ok {
		return f.place
	}
	if strings.HasPrefix(field, "aws.cloudtrail.resources.") {
		return Whole
	}
	for _, p := range flattenedPrefixes {
		if strings.HasPrefix(field, p.ecs+".") {
			return Whole
		}
	}
	return Computed
}

var fieldTable = map[string]fieldDef{
	"@timestamp": {get: func(e *Event, dst []Value) []Value {
		if !e.tsOK {
			return dst
		}
		return append(dst, StringValue(e.appendTime(e.ts)))
	}},
	"ecs.version":         {get: constant("8.11.0")},
	"event.kind":          {get: kind},
	"event.dataset":       {get: constant("aws.cloudtrail")},
	"data_stream.dataset": {get: constant("aws.cloudtrail")},
	"cloud.provider":      {get: constant("aws")},
	"cloud.service.name":  {get: cloudServiceName, place: Substring},
	"event.action":        {get: path("eventName"), place: Whole},
	"event.provider":      {get: path("eventSource"), place: Whole},
	"event.id":            {get: path("eventID"), place: Whole},
	"event.outcome":       {get: outcome},
	"event.type":          {get: categorization(false), array: true},
	"event.category":      {get: categorization(true), array: true},
	"cloud.region":        {get: path("awsRegion"), place: Whole},
	"cloud.account.id":    {get: first(path("userIdentity", "accountId"), path("recipientAccountId")), place: Whole},
	"source.address":      {get: path("sourceIPAddress"), place: Whole},
	"source.ip":           {get: sourceIP},
	"user_agent.original": {get: userAgent, place: Whole},
	"service.name":        {get: serviceNameGetter, place: Substring},

	"user.id":           {get: userID, place: Whole},
	"user.name":         {get: userName, place: Whole},
	"user.email":        {get: userEmail, place: Substring},
	"user.target.name":  {get: path("requestParameters", "userName"), place: Whole},
	"user.target.id":    {get: path("responseElements", "user", "userId"), place: Whole},
	"user.changes.name": {get: path("requestParameters", "newUserName"), place: Whole},
	"group.id":          {get: path("responseElements", "group", "groupId"), place: Whole},
	"group.name":        {get: path("requestParameters", "groupName"), place: Whole},
	"related.user":      {get: relatedUser, array: true, place: Substring},
	"related.ip":        {get: relatedIP, array: true, place: Whole},
	"related.hosts":     {get: relatedHosts, array: true, place: Substring},

	// The entity fields (entity.go). related.entity, target.entity.id and
	// entity.target.id may hold a number's text (DeleteNetworkAclEntry's
	// ruleNumber), so nothing is said of where their values are.
	"related.entity":           {get: entityList(func(x *entities) []string { return x.related }), array: true},
	"target.entity.id":         {get: entityList(func(x *entities) []string { return x.target }), array: true},
	"entity.target.id":         {get: entityList(func(x *entities) []string { return x.genericT }), array: true},
	"user.target.entity.id":    {get: entityList(func(x *entities) []string { return x.userT }), array: true, place: Whole},
	"host.target.entity.id":    {get: entityList(func(x *entities) []string { return x.hostT }), array: true, place: Whole},
	"service.target.entity.id": {get: entityList(func(x *entities) []string { return x.serviceT }), array: true, place: Whole},
	"host.target.id":           {get: entityList(func(x *entities) []string { return x.hostIDs }), array: true, place: Substring},
	"actor.entity.id":          {get: actorEntity(actorNone), array: true, place: Whole},
	"user.entity.id":           {get: actorEntity(actorUser), array: true, place: Whole},
	"service.entity.id":        {get: actorEntity(actorService), array: true, place: Whole},
	"host.entity.id":           {get: actorEntity(actorHost), array: true, place: Whole},
	"entity.id":                {get: actorEntity(actorGeneric), array: true, place: Whole},

	"aws.cloudtrail.event_version":                   {get: path("eventVersion"), place: Whole},
	"aws.cloudtrail.event_category":                  {get: path("eventCategory"), place: Whole},
	"aws.cloudtrail.event_type":                      {get: path("eventType"), place: Whole},
	"aws.cloudtrail.api_version":                     {get: path("apiVersion"), place: Whole},
	"aws.cloudtrail.management_event":                {get: stringified(path("managementEvent"))},
	"aws.cloudtrail.read_only":                       {get: path("readOnly")},
	"aws.cloudtrail.request_id":                      {get: path("requestID"), place: Whole},
	"aws.cloudtrail.recipient_account_id":            {get: path("recipientAccountId"), place: Whole},
	"aws.cloudtrail.shared_event_id":                 {get: first(path("sharedEventID"), path("sharedEventId")), place: Whole},
	"aws.cloudtrail.vpc_endpoint_id":                 {get: path("vpcEndpointId"), place: Whole},
	"aws.cloudtrail.vpc_endpoint_account_id":         {get: path("vpcEndpointAccountId"), place: Whole},
	"aws.cloudtrail.error_code":                      {get: path("errorCode"), place: Whole},
	"aws.cloudtrail.error_message":                   {get: path("errorMessage"), place: Whole},
	"aws.cloudtrail.session_credential_from_console": {get: path("sessionCredentialFromConsole"), place: Whole},
	"aws.cloudtrail.addendum.reason":                 {get: renamed("addendum", "reason"), place: Whole},
	"aws.cloudtrail.addendum.updated_fields":         {get: renamed("addendum", "updatedFields"), place: Whole},
	"aws.cloudtrail.addendum.original_request_id":    {get: renamed("addendum", "originalRequestID"), place: Whole},
	"aws.cloudtrail.addendum.original_event_id":      {get: renamed("addendum", "originalEventID"), place: Whole},
	"aws.cloudtrail.tls_details.key_exchange":        {get: tls("keyExchange"), place: Whole},

	"aws.cloudtrail.user_identity.type":                                        {get: path("userIdentity", "type"), place: Whole},
	"aws.cloudtrail.user_identity.arn":                                         {get: path("userIdentity", "arn"), place: Whole},
	"aws.cloudtrail.user_identity.access_key_id":                               {get: path("userIdentity", "accessKeyId"), place: Whole},
	"aws.cloudtrail.user_identity.invoked_by":                                  {get: path("userIdentity", "invokedBy"), place: Whole},
	"aws.cloudtrail.user_identity.invoked_by_delegate.account_id":              {get: renamed("userIdentity", "invokedByDelegate", "accountId"), place: Whole},
	"aws.cloudtrail.user_identity.credential_id":                               {get: renamed("userIdentity", "credentialId"), place: Whole},
	"aws.cloudtrail.user_identity.identity_provider":                           {get: renamed("userIdentity", "identityProvider"), place: Whole},
	"aws.cloudtrail.user_identity.on_behalf_of.user_id":                        {get: path("userIdentity", "onBehalfOf", "userId"), place: Whole},
	"aws.cloudtrail.user_identity.on_behalf_of.identity_store_arn":             {get: renamed("userIdentity", "onBehalfOf", "identityStoreArn"), place: Whole},
	"aws.cloudtrail.user_identity.in_scope_of.issuer_type":                     {get: renamed("userIdentity", "inScopeOf", "issuerType"), place: Whole},
	"aws.cloudtrail.user_identity.in_scope_of.credentials_issued_to":           {get: renamed("userIdentity", "inScopeOf", "credentialsIssuedTo"), place: Whole},
	"aws.cloudtrail.user_identity.in_scope_of.source_arn":                      {get: renamed("userIdentity", "inScopeOf", "sourceArn"), place: Whole},
	"aws.cloudtrail.user_identity.in_scope_of.source_account":                  {get: renamed("userIdentity", "inScopeOf", "sourceAccount"), place: Whole},
	"aws.cloudtrail.user_identity.session_context.mfa_authenticated":           {get: stringified(path("userIdentity", "sessionContext", "attributes", "mfaAuthenticated"))},
	"aws.cloudtrail.user_identity.session_context.creation_date":               {get: creationDate},
	"aws.cloudtrail.user_identity.session_context.ec2_role_delivery":           {get: renamed("userIdentity", "sessionContext", "ec2RoleDelivery"), place: Whole},
	"aws.cloudtrail.user_identity.session_context.source_identity":             {get: renamed("userIdentity", "sessionContext", "sourceIdentity"), place: Whole},
	"aws.cloudtrail.user_identity.session_context.assumed_root":                {get: renamed("userIdentity", "sessionContext", "assumedRoot"), place: Whole},
	"aws.cloudtrail.user_identity.session_context.sign_in_session_arn":         {get: renamed("userIdentity", "sessionContext", "signInSessionArn"), place: Whole},
	"aws.cloudtrail.user_identity.session_context.session_issuer.type":         {get: path("userIdentity", "sessionContext", "sessionIssuer", "type"), place: Whole},
	"aws.cloudtrail.user_identity.session_context.session_issuer.principal_id": {get: path("userIdentity", "sessionContext", "sessionIssuer", "principalId"), place: Whole},
	"aws.cloudtrail.user_identity.session_context.session_issuer.arn":          {get: path("userIdentity", "sessionContext", "sessionIssuer", "arn"), place: Whole},
	"aws.cloudtrail.user_identity.session_context.session_issuer.account_id":   {get: path("userIdentity", "sessionContext", "sessionIssuer", "accountId"), place: Whole},
	"aws.cloudtrail.user_identity.session_context.web_id_federation_data.federated_provider": {
		get: renamed("userIdentity", "sessionContext", "webIdFederationData", "federatedProvider"), place: Whole},

	"aws.cloudtrail.console_login.additional_eventdata.mobile_version": {get: consoleLogin("MobileVersion", true)},
	"aws.cloudtrail.console_login.additional_eventdata.login_to":       {get: consoleLogin("LoginTo", false), place: Whole},
	"aws.cloudtrail.console_login.additional_eventdata.mfa_used":       {get: consoleLogin("MFAUsed", true)},

	"aws.cloudtrail.request_parameters":    {get: javaString(0)},
	"aws.cloudtrail.response_elements":     {get: javaString(1)},
	"aws.cloudtrail.additional_eventdata":  {get: javaString(2)},
	"aws.cloudtrail.service_event_details": {get: javaString(3)},

	"tls.version_protocol":   {get: tlsVersion(true)},
	"tls.version":            {get: tlsVersion(false), place: Substring},
	"tls.cipher":             {get: tls("cipherSuite"), place: Whole},
	"tls.client.server_name": {get: tls("clientProvidedHostHeader"), place: Whole},
}

// flattenedPrefixes are the objects that the document holds whole: any
// path below them is answered from the record's object (as in an ES
// flattened field, every leaf is queryable by its dotted path). The first
// four are the aws.cloudtrail.flattened.* payloads, kept only under the
// pipeline's size rule; their order is javaString's numbering.
var flattenedPrefixes = [...]struct {
	ecs     string
	src     []string
	payload bool
}{
	{"aws.cloudtrail.flattened.request_parameters", []string{"requestParameters"}, true},
	{"aws.cloudtrail.flattened.response_elements", []string{"responseElements"}, true},
	{"aws.cloudtrail.flattened.additional_eventdata", []string{"additionalEventData"}, true},
	{"aws.cloudtrail.flattened.service_event_details", []string{"serviceEventDetails"}, true},
	// The identity provider names these keys, so the pipeline keeps them whole.
	{"aws.cloudtrail.user_identity.session_context.web_id_federation_data.attributes",
		[]string{"userIdentity", "sessionContext", "webIdFederationData", "attributes"}, false},
}

const additionalEventData = 2 // its index in flattenedPrefixes

// resourceFields are the per-resource keys that documents and listings name;
// any other key of a resource is reachable through Lookup as well.
var resourceFields = []string{"arn", "account_id", "type"}

var fieldNames = func() []string {
	names := make([]string, 0, len(fieldTable)+len(resourceFields))
	for k := range fieldTable {
		names = append(names, k)
	}
	for _, k := range resourceFields {
		names = append(names, "aws.cloudtrail.resources."+k)
	}
	sort.Strings(names)
	return names
}()

func constant(s string) Getter {
	v := StringValue(s)
	return func(_ *Event, dst []Value) []Value { return append(dst, v) }
}

func path(p ...string) Getter {
	return func(e *Event, dst []Value) []Value {
		if v, ok := e.scalar(e.get(p...)); ok {
			dst = append(dst, v)
		}
		return dst
	}
}

// renamed is a field the pipeline renames from the record, as it stands:
// a value, or each value of an array.
func renamed(p ...string) Getter {
	return func(e *Event, dst []Value) []Value { return e.leafValues(e.get(p...), dst) }
}

// userAgent is user_agent.original. Elastic's user_agent processor takes
// only a string: a userAgent array stops its pipeline with an error. Here
// each string of the array is a value of its own (docs/cloudtrail-ecs.md).
func userAgent(e *Event, dst []Value) []Value {
	v := e.get("userAgent")
	if v == nil {
		return dst
	}
	switch v.Type() {
	case fastjson.TypeString:
		if s, ok := e.scalar(v); ok {
			dst = append(dst, s)
		}
	case fastjson.TypeArray:
		a, _ := v.Array()
		for _, c := range a {
			if c.Type() == fastjson.TypeString && !missing(c) {
				b, _ := c.StringBytes()
				dst = append(dst, StringValue(b2s(b)))
			}
		}
	}
	return dst
}

// first answers with the first getter that yields anything.
func first(gs ...Getter) Getter {
	return func(e *Event, dst []Value) []Value {
		for _, g := range gs {
			if out := g(e, dst); len(out) > len(dst) {
				return out
			}
		}
		return dst
	}
}

// stringified turns booleans into keyword strings, as String.valueOf does.
func stringified(g Getter) Getter {
	return func(e *Event, dst []Value) []Value {
		n := len(dst)
		dst = g(e, dst)
		for i := n; i < len(dst); i++ {
			dst[i] = StringValue(dst[i].Str)
		}
		return dst
	}
}

// creationDate is the session's creation date as the pipeline's date
// processor writes it; a value it cannot parse is left out.
func creationDate(e *Event, dst []Value) []Value {
	s, ok := e.stringOK("userIdentity", "sessionContext", "attributes", "creationDate")
	if !ok {
		return dst
	}
	if t, ok := parseCreationDate(s); ok {
		dst = append(dst, StringValue(e.appendTime(t)))
	}
	return dst
}

func outcome(e *Event, dst []Value) []Value {
	if e.str1("eventName") == "ConsoleLogin" {
		if s, ok := e.str("responseElements", "ConsoleLogin"); ok {
			start := len(e.buf)
			e.buf = appendLower(e.buf, s)
			return append(dst, StringValue(b2s(e.buf[start:])))
		}
	}
	if _, ok := e.str("errorCode"); ok {
		return append(dst, StringValue("failure"))
	}
	if _, ok := e.str("errorMessage"); ok {
		return append(dst, StringValue("failure"))
	}
	return append(dst, StringValue("success"))
}

func categorization(category bool) Getter {
	return func(e *Event, dst []Value) []Value {
		c, ok := categories[e.str1("eventName")]
		if !ok {
			if category {
				return dst
			}
			return append(dst, StringValue("info"))
		}
		list := c.typ
		if category {
			list = c.category
		}
		for _, s := range list {
			dst = append(dst, StringValue(s))
		}
		return dst
	}
}

// str1 is str without the ok flag.
func (e *Event) str1(p ...string) string {
	s, _ := e.str(p...)
	return s
}

func sourceIP(e *Event, dst []Value) []Value {
	s, ok := e.str("sourceIPAddress")
	if !ok {
		return dst
	}
	if _, ok := parseIP(s); ok {
		dst = append(dst, StringValue(s))
	}
	return dst
}

// parseIP parses an IP literal as the pipeline's grok ^%{IP}$ takes it:
// whole, without zone. A name (a service's, as AWS writes for calls made
// by a service) is refused before netip sees it: its error would be an
// allocation for each such event.
func parseIP(s string) (netip.Addr, bool) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F', c == '.', c == ':':
		default:
			return netip.Addr{}, false
		}
	}
	a, err := netip.ParseAddr(s)
	return a, err == nil && a.Zone() == ""
}

// appendLower is strings.ToLower(s) appended to dst, without an
// intermediate string when s is ASCII.
func appendLower(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return append(dst, strings.ToLower(s)...)
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// SourceIP returns source.ip parsed, for enrichment without a string round trip.
func (e *Event) SourceIP() (netip.Addr, bool) {
	s, ok := e.str("sourceIPAddress")
	if !ok {
		return netip.Addr{}, false
	}
	return parseIP(s)
}

func consoleLogin(key string, boolean bool) Getter {
	return func(e *Event, dst []Value) []Value {
		if e.str1("eventName") != "ConsoleLogin" {
			return dst
		}
		s, ok := e.str("additionalEventData", key)
		if !ok {
			return dst
		}
		if boolean {
			return append(dst, boolValue(s != "No"))
		}
		return append(dst, StringValue(s))
	}
}

// tlsDetails is absent as a whole when it holds the field names as values,
// as some services write it.
func (e *Event) tlsDetails() bool { return e.str1("tlsDetails", "tlsVersion") != "tlsVersion" }

func tls(key string) Getter {
	get := path("tlsDetails", key)
	return func(e *Event, dst []Value) []Value {
		if !e.tlsDetails() {
			return dst
		}
		return get(e, dst)
	}
}

// tlsVersion dissects "TLSv1.2" into protocol "tls" and version "1.2"; a
// value without a "v" is the version as it stands.
func tlsVersion(protocol bool) Getter {
	return func(e *Event, dst []Value) []Value {
		s, ok := e.str("tlsDetails", "tlsVersion")
		if !ok || !e.tlsDetails() {
			return dst
		}
		proto, ver, found := strings.Cut(s, "v")
		switch {
		case protocol && found && proto != "":
			start := len(e.buf)
			e.buf = append(e.buf, strings.ToLower(proto)...)
			return append(dst, StringValue(b2s(e.buf[start:])))
		case !protocol && found && ver != "":
			return append(dst, StringValue(ver))
		case !protocol && !found:
			return append(dst, StringValue(s))
		}
		return dst
	}
}

// javaString renders payload i as Painless Map.toString does
// (docs/cloudtrail-ecs.md, payloads).
func javaString(i int) Getter {
	return func(e *Event, dst []Value) []Value {
		v := e.get(flattenedPrefixes[i].src...)
		if missing(v) {
			return dst
		}
		start := len(e.buf)
		e.buf = appendJavaHiding(e.buf, v, e.hidden(i))
		return append(dst, StringValue(b2s(e.buf[start:])))
	}
}

// hidden is the top-level key of object i that the pipeline moved out of
// it before copying it: additionalEventData.UserName on UserAuthentication
// (it becomes user.name); "" for none.
func (e *Event) hidden(i int) string {
	if i == additionalEventData && e.movedUserName() {
		return "UserName"
	}
	return ""
}

// flattenedGetter answers <object>.<rest> for object i of flattenedPrefixes.
func flattenedGetter(i int, rest string) Getter {
	return func(e *Event, dst []Value) []Value {
		if v := e.flattened(i); v != nil {
			dst = e.leavesHiding(v, rest, e.hidden(i), dst)
		}
		return dst
	}
}

// flattened returns object i of flattenedPrefixes, or nil when it is absent
// or, for a payload, too large by the pipeline's size rule: a payload
// whose toString is 32766 characters or more is kept only as the keyword
// string. An object that holds nothing but its hidden key is absent too.
func (e *Event) flattened(i int) *fastjson.Value {
	v := e.get(flattenedPrefixes[i].src...)
	if e.flat[i] == 0 {
		e.flat[i] = 2
		hide := e.hidden(i)
		if !missing(v) && (!flattenedPrefixes[i].payload || (e.raw != nil && javaLenBound(len(e.raw)) < 32766 || javaLenHiding(v, hide, &e.num) < 32766)) && !onlyKey(v, hide) {
			e.flat[i] = 1
		}
	}
	if e.flat[i] != 1 {
		return nil
	}
	return v
}

// onlyKey reports whether the object v holds no present member but key.
func onlyKey(v *fastjson.Value, key string) bool {
	if key == "" || v.Type() != fastjson.TypeObject {
		return false
	}
	o, _ := v.Object()
	only := true
	o.Visit(func(k []byte, c *fastjson.Value) {
		if string(k) != key && !missing(c) {
			only = false
		}
	})
	return only
}

// leavesHiding is leaves without the top-level member hide.
func (e *Event) leavesHiding(v *fastjson.Value, p, hide string, dst []Value) []Value {
	if hide != "" && (p == hide || strings.HasPrefix(p, hide+".")) && v.Type() == fastjson.TypeObject {
		o, _ := v.Object()
		o.Visit(func(k []byte, c *fastjson.Value) {
			switch {
			case string(k) == hide:
			case string(k) == p:
				dst = e.leafValues(c, dst)
			case len(p) > len(k) && p[len(k)] == '.' && p[:len(k)] == string(k):
				dst = e.leaves(c, p[len(k)+1:], dst)
			}
		})
		return dst
	}
	return e.leaves(v, p, dst)
}

// leaves collects the values at a dotted path below v. Keys may themselves
// contain dots, as in an ES flattened field; arrays fan out.
func (e *Event) leaves(v *fastjson.Value, p string, dst []Value) []Value {
	switch v.Type() {
	case fastjson.TypeArray:
		a, _ := v.Array()
		for _, c := range a {
			dst = e.leaves(c, p, dst)
		}
	case fastjson.TypeObject:
		if p == "" {
			return dst
		}
		o, _ := v.Object()
		o.Visit(func(k []byte, c *fastjson.Value) {
			switch {
			case string(k) == p:
				dst = e.leafValues(c, dst)
			case len(p) > len(k) && p[len(k)] == '.' && p[:len(k)] == string(k):
				dst = e.leaves(c, p[len(k)+1:], dst)
			}
		})
	}
	return dst
}

func (e *Event) leafValues(v *fastjson.Value, dst []Value) []Value {
	if v == nil {
		return dst
	}
	if v.Type() == fastjson.TypeArray {
		a, _ := v.Array()
		for _, c := range a {
			dst = e.leafValues(c, dst)
		}
		return dst
	}
	if s, ok := e.scalar(v); ok {
		dst = append(dst, s)
	}
	return dst
}

// resources yields the elements of resources[] after remove-nulls and the
// pipeline's de-duplication on arn + account + type (the last one wins).
func (e *Event) resources(fn func(r *fastjson.Object)) {
	arr := e.get("resources")
	if arr == nil || arr.Type() != fastjson.TypeArray {
		return
	}
	elems, _ := arr.Array()
	var small [8][3]string
	keys := small[:0]
	if len(elems) > len(small) {
		keys = make([][3]string, 0, len(elems))
	}
	for _, el := range elems {
		var k [3]string
		if o, err := el.Object(); err == nil {
			k = [3]string{resKey(e, o, "arn"), resKey(e, o, "account_id"), resKey(e, o, "type")}
		}
		keys = append(keys, k)
	}
outer:
	for i, el := range elems {
		if el.Type() != fastjson.TypeObject || (keys[i] == [3]string{} && missing(el)) {
			continue
		}
		for _, later := range keys[i+1:] {
			if later == keys[i] {
				continue outer
			}
		}
		o, _ := el.Object()
		fn(o)
	}
}

// resKey reads a resource's value under its ECS name: "arn" comes from ARN
// (or arn), "account_id" from accountId (or account_id); other keys verbatim.
func resKey(e *Event, o *fastjson.Object, field string) string {
	v, _ := e.scalar(resValue(o, field))
	return v.Str
}

func resValue(o *fastjson.Object, field string) *fastjson.Value {
	switch field {
	case "arn":
		if v := o.Get("ARN"); v != nil {
			return v
		}
	case "account_id":
		if v := o.Get("accountId"); v != nil {
			return v
		}
	case "ARN", "accountId":
		return nil // renamed away
	}
	return o.Get(field)
}

func resourceGetter(field string) Getter {
	return func(e *Event, dst []Value) []Value {
		e.resources(func(o *fastjson.Object) {
			dst = e.leafValues(resValue(o, field), dst)
		})
		return dst
	}
}
