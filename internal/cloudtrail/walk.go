package cloudtrail

import (
	"sort"
	"strings"

	"github.com/valyala/fastjson"
)

// A Sink receives a document from Walk as a stream of tokens: inside an
// object, each member's Key comes before its value; a value is a scalar
// (Value) or an object or array between Begin and End.
type Sink interface {
	Key(k string)
	Begin(array bool)
	End(array bool)
	Value(v Value)
}

// Extra is a field that Walk adds to the document at a dotted path.
type Extra struct {
	Path  string
	Value Value
}

// Walk streams the members of the document that Document builds, with the
// same content, to s, without building it (so that output needs no maps):
// s gets the top-level members only, not the braces around them, so that
// the caller may add members of its own. extra, sorted by Path, is merged
// in; an extra replaces the field of the same path. Strings are borrowed
// like the event. Keys come out sorted where Document's fields are; the
// payload objects (aws.cloudtrail.flattened.*, resources) keep the record's
// key order, without the members that remove-nulls drops, and a key the
// record repeats is written once, with its last value, as Document keeps it.
func (e *Event) Walk(s Sink, extra []Extra) {
	w := walker{e: e, s: s}
	w.kvs = w.small[:0]
	var scratch [8]Value
	vals := scratch[:0]
	i := 0
	for _, d := range docEntries {
		for i < len(extra) && extra[i].Path <= d.path {
			w.at(extra[i].Path)
			s.Value(extra[i].Value)
			i++
		}
		if i > 0 && extra[i-1].Path == d.path {
			continue
		}
		switch {
		case d.flat >= 0:
			if v := e.flattened(d.flat); v != nil {
				w.at(d.path)
				w.tree(v)
			}
		case d.resources:
			open := false
			e.resources(func(o *fastjson.Object) {
				if !open {
					w.at(d.path)
					s.Begin(true)
					open = true
				}
				s.Begin(false)
				w.members(o, true)
				s.End(false)
			})
			if open {
				s.End(true)
			}
		default:
			vals = d.get(e, vals[:0])
			switch {
			case len(vals) == 0:
			case len(vals) == 1 && !d.array:
				w.at(d.path)
				s.Value(vals[0])
			default:
				w.at(d.path)
				s.Begin(true)
				for _, v := range vals {
					s.Value(v)
				}
				s.End(true)
			}
		}
	}
	for ; i < len(extra); i++ {
		w.at(extra[i].Path)
		s.Value(extra[i].Value)
	}
	for ; w.depth > 0; w.depth-- {
		s.End(false)
	}
}

// docEntry is one member of the document at a dotted path: a field, the
// resources, or a flattened payload.
type docEntry struct {
	path      string
	get       Getter
	array     bool
	resources bool
	flat      int // index into flattenedPrefixes, or -1
}

// docEntries are sorted by path, so that the members of every object are
// contiguous (all paths with one prefix are) and Walk opens each object
// once.
var docEntries = func() []docEntry {
	var ds []docEntry
	for _, name := range fieldNames {
		if !strings.HasPrefix(name, "aws.cloudtrail.resources.") {
			ds = append(ds, docEntry{path: name, get: Lookup(name), array: fieldTable[name].array, flat: -1})
		}
	}
	ds = append(ds, docEntry{path: "aws.cloudtrail.resources", resources: true, flat: -1})
	for i, p := range flattenedPrefixes {
		ds = append(ds, docEntry{path: p.ecs, flat: i})
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].path < ds[j].path })
	return ds
}()

type walker struct {
	e     *Event
	s     Sink
	open  [8]string // the objects open below the top level
	depth int
	kvs   []member // scratch for the members of payload objects
	small [32]member
}

type member struct {
	key string
	v   *fastjson.Value
}

// at closes and opens objects so that the next member is the one at path,
// and writes its key.
func (w *walker) at(path string) {
	rest, c := path, 0
	for c < w.depth {
		head, tail, ok := strings.Cut(rest, ".")
		if !ok || head != w.open[c] {
			break
		}
		rest, c = tail, c+1
	}
	for ; w.depth > c; w.depth-- {
		w.s.End(false)
	}
	for {
		head, tail, ok := strings.Cut(rest, ".")
		w.s.Key(head)
		if !ok {
			return
		}
		w.s.Begin(false)
		w.open[w.depth] = head
		w.depth++
		rest = tail
	}
}

// tree writes a payload value as plain does: without missing members.
func (w *walker) tree(v *fastjson.Value) {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		w.s.Begin(false)
		w.members(o, false)
		w.s.End(false)
	case fastjson.TypeArray:
		a, _ := v.Array()
		w.s.Begin(true)
		for _, c := range a {
			if !missing(c) {
				w.tree(c)
			}
		}
		w.s.End(true)
	default:
		if sv, ok := w.e.scalar(v); ok {
			w.s.Value(sv)
		}
	}
}

// members writes an object's members that are not missing; a key that
// comes again later is left to its last occurrence. resource renames the
// keys a resource's ARN and account id have in Document.
func (w *walker) members(o *fastjson.Object, resource bool) {
	start := len(w.kvs)
	o.Visit(func(k []byte, v *fastjson.Value) {
		if missing(v) {
			return
		}
		key := b2s(k)
		if resource {
			switch key {
			case "ARN":
				key = "arn"
			case "accountId":
				key = "account_id"
			}
		}
		w.kvs = append(w.kvs, member{key, v})
	})
	kvs := w.kvs[start:]
outer:
	for i, m := range kvs {
		for _, later := range kvs[i+1:] {
			if later.key == m.key {
				continue outer
			}
		}
		w.s.Key(m.key)
		w.tree(m.v)
	}
	w.kvs = w.kvs[:start]
}
