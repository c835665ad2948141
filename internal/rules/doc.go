package rules

import (
	"strconv"
	"strings"
	"unsafe"

	"github.com/newterms/newterms/internal/cloudtrail"
	"github.com/newterms/newterms/internal/kql"
)

// Enrichment is what the engine adds to an event before rules see it.
type Enrichment struct {
	HasAS    bool
	ASNumber uint32
	ASOrg    string
}

// Fields that enrichment fills, beyond those of internal/cloudtrail.
const (
	FieldASNumber = "source.as.number"
	FieldASOrg    = "source.as.organization.name"
)

// fieldTypes are the fields that Elastic's mappings do not type as keyword.
var fieldTypes = map[string]kql.FieldType{
	"source.ip":                kql.IP,
	"related.ip":               kql.IP,
	FieldASNumber:              kql.Long,
	"@timestamp":               kql.Date,
	"aws.cloudtrail.read_only": kql.Boolean,
	"aws.cloudtrail.user_identity.session_context.creation_date":       kql.Date,
	"aws.cloudtrail.console_login.additional_eventdata.mobile_version": kql.Boolean,
	"aws.cloudtrail.console_login.additional_eventdata.mfa_used":       kql.Boolean,
}

// registry numbers the fields that a rule set reads, so that a document
// computes each at most once per event however many rules ask.
type registry struct {
	names   []string
	ids     map[string]int
	gets    []cloudtrail.Getter // nil for enrichment fields and unknown ones
	objects []bool              // the field is an object path
}

func newRegistry() *registry { return &registry{ids: map[string]int{}} }

// Known reports whether events (with enrichment) can hold the field.
func Known(field string) bool {
	return field == FieldASNumber || field == FieldASOrg || cloudtrail.Known(field)
}

func (r *registry) resolve(field string) (int, kql.FieldType, bool) {
	id, ok := r.ids[field]
	if !ok {
		id = len(r.names)
		r.ids[field] = id
		r.names = append(r.names, field)
		r.gets = append(r.gets, cloudtrail.Lookup(field))
		r.objects = append(r.objects, isObject(field))
	}
	if r.objects[id] {
		return id, kql.Object, true
	}
	return id, fieldTypes[field], Known(field)
}

// isObject reports whether field holds other fields, enrichment's
// (source.as) included, and no value of its own.
func isObject(field string) bool {
	return cloudtrail.IsObject(field) || below(FieldASNumber, field) || below(FieldASOrg, field)
}

// below reports whether field is a path below the object path p.
func below(field, p string) bool {
	return len(field) > len(p) && field[len(p)] == '.' && strings.HasPrefix(field, p)
}

// Doc is one event as rules see it: the CloudTrail event plus enrichment,
// with each field's values computed on first use and kept for the event.
// A Doc is reused across events and is not safe for concurrent use.
type Doc struct {
	reg *registry
	ev  *cloudtrail.Event
	enr Enrichment
	// enrich, when set (ResetLazy), computes enr on first use: most events
	// are decided without source.as.*, and a lookup is a tenth of matching
	// an event.
	enrich  func(*cloudtrail.Event) Enrichment
	enrDone bool
	vals    [][]kql.Value
	done    []bool
	// terms and tuple are scratch for Rule.Terms.
	terms [3][]string
	tuple [3]string
	// The AS number's text, kept while consecutive events share it.
	asText string
	asFor  uint32
}

// NewDoc returns a document for matching this set's rules.
func (s *Set) NewDoc() *Doc {
	n := len(s.reg.names)
	return &Doc{reg: s.reg, vals: make([][]kql.Value, n), done: make([]bool, n)}
}

// Reset points the document at the next event.
func (d *Doc) Reset(ev *cloudtrail.Event, enr Enrichment) {
	d.ev, d.enr, d.enrDone = ev, enr, true
	clear(d.done)
}

// ResetLazy points the document at the next event, whose enrichment
// enrich gives when a rule first reads it. enrich is kept: pass the same
// function for every event, so that no closure is made per event.
func (d *Doc) ResetLazy(ev *cloudtrail.Event, enrich func(*cloudtrail.Event) Enrichment) {
	d.ev, d.enrich, d.enrDone = ev, enrich, false
	clear(d.done)
}

// enrichment is the event's enrichment, computed on first use.
func (d *Doc) enrichment() *Enrichment {
	if !d.enrDone {
		d.enr, d.enrDone = d.enrich(d.ev), true
	}
	return &d.enr
}

// Event is the CloudTrail event the document holds.
func (d *Doc) Event() *cloudtrail.Event { return d.ev }

// Enrichment is what was added to the event.
func (d *Doc) Enrichment() Enrichment { return *d.enrichment() }

// Values implements kql.Source.
func (d *Doc) Values(id int) []kql.Value {
	if d.done[id] {
		return d.vals[id]
	}
	d.done[id] = true
	if d.reg.objects[id] {
		d.vals[id] = d.object(d.reg.names[id], d.reg.gets[id], d.vals[id][:0])
	} else {
		d.vals[id] = d.compute(d.reg.names[id], d.reg.gets[id], d.vals[id][:0])
	}
	return d.vals[id]
}

// object is every value below an object path: the event's, and
// enrichment's.
func (d *Doc) object(name string, get cloudtrail.Getter, v []kql.Value) []kql.Value {
	if get != nil {
		v = kqlValues(get(d.ev, cloudtrailValues(v)))
	}
	for _, f := range [...]string{FieldASNumber, FieldASOrg} {
		if below(f, name) {
			v = d.compute(f, nil, v)
		}
	}
	return v
}

func (d *Doc) compute(name string, get cloudtrail.Getter, v []kql.Value) []kql.Value {
	if get != nil {
		return kqlValues(get(d.ev, cloudtrailValues(v)))
	}
	if name != FieldASNumber && name != FieldASOrg {
		return v
	}
	switch enr := d.enrichment(); {
	case name == FieldASNumber && enr.HasAS:
		if d.asText == "" || d.asFor != enr.ASNumber {
			d.asText, d.asFor = strconv.FormatUint(uint64(enr.ASNumber), 10), enr.ASNumber
		}
		return append(v, kql.Value{Kind: kql.Number, Str: d.asText, Num: float64(enr.ASNumber)})
	case name == FieldASOrg && enr.HasAS && enr.ASOrg != "":
		return append(v, kql.StringValue(enr.ASOrg))
	}
	return v
}

// A cloudtrail getter writes its values straight into the document's
// []kql.Value, seen as a []cloudtrail.Value: kql declares its own Value, so
// that it can serve any event source, and cloudtrail knows nothing of
// queries, yet the two types share one layout and one numbering of kinds,
// so the values need no copy on the hot path (a copy per computed field
// cost a few ns per value, a few % of matching an event). The declarations
// below are what make the reinterpretation sound: each indexes a
// one-element array with a constant difference, so the build fails unless
// every size, offset and kind agrees.
var (
	_ = [1]struct{}{}[unsafe.Sizeof(kql.Value{})-unsafe.Sizeof(cloudtrail.Value{})]
	_ = [1]struct{}{}[unsafe.Offsetof(kql.Value{}.Kind)-unsafe.Offsetof(cloudtrail.Value{}.Kind)]
	_ = [1]struct{}{}[unsafe.Sizeof(kql.Value{}.Kind)-unsafe.Sizeof(cloudtrail.Value{}.Kind)]
	_ = [1]struct{}{}[unsafe.Offsetof(kql.Value{}.Str)-unsafe.Offsetof(cloudtrail.Value{}.Str)]
	_ = [1]struct{}{}[unsafe.Offsetof(kql.Value{}.Num)-unsafe.Offsetof(cloudtrail.Value{}.Num)]
	_ = [1]struct{}{}[kql.String-kql.Kind(cloudtrail.String)]
	_ = [1]struct{}{}[kql.Number-kql.Kind(cloudtrail.Number)]
	_ = [1]struct{}{}[kql.Bool-kql.Kind(cloudtrail.Bool)]
	// The field types themselves, beyond their sizes.
	_ string  = cloudtrail.Value{}.Str
	_ float64 = cloudtrail.Value{}.Num
	_ string  = kql.Value{}.Str
	_ float64 = kql.Value{}.Num
)

// cloudtrailValues is v, with its capacity, as cloudtrail values.
func cloudtrailValues(v []kql.Value) []cloudtrail.Value {
	return unsafe.Slice((*cloudtrail.Value)(unsafe.Pointer(unsafe.SliceData(v))), cap(v))[:len(v)]
}

// kqlValues is v, with its capacity, as kql values.
func kqlValues(v []cloudtrail.Value) []kql.Value {
	return unsafe.Slice((*kql.Value)(unsafe.Pointer(unsafe.SliceData(v))), cap(v))[:len(v)]
}

// Get answers any field by name, registered or not (for tools and tests;
// matching uses Values).
func (d *Doc) Get(field string) []string {
	var out []string
	compute := d.compute
	if isObject(field) {
		compute = d.object
	}
	for _, v := range compute(field, cloudtrail.Lookup(field), nil) {
		out = append(out, strings.Clone(v.Str))
	}
	return out
}
