package cloudtrail

import (
	"sort"
	"strings"
	"sync"

	"github.com/valyala/fastjson"
)

// A Sink receives a document from Walk as a stream of tokens: inside an
// object, each member's key (Name or Key) comes before its value; a value
// is a scalar (Value) or an object or array between Begin and End.
type Sink interface {
	// Name is a key that is one of the document's own names: ASCII
	// letters, digits, '_' and '@' only, nothing a writer need escape.
	Name(k string)
	// Key is any other key: from a record's payloads, or an Extra's path.
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
// in; an extra replaces the field of the same path (extras' paths are
// distinct, and none is the prefix of another path). Strings are borrowed
// like the event. Keys come out sorted where Document's fields are; the
// payload objects (aws.cloudtrail.flattened.*, resources) keep the record's
// key order, without the members that remove-nulls drops, and a key the
// record repeats is written once, with its last value, as Document keeps it.
func (e *Event) Walk(s Sink, extra []Extra) {
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	w := walker{e: e, s: s, kvs: sc.kvs[:0], open: sc.open[:0]}
	vals := sc.vals[:0]
	defer func() { sc.vals, sc.kvs, sc.open = vals[:0], w.kvs[:0], w.open[:0] }()
	i, at := 0, position(extra, 0)
	for j, d := range docEntries {
		replaced := false
		for at <= j {
			replaced = replaced || at == j && extra[i].Path == d.path
			w.extra(extra[i])
			i++
			at = position(extra, i)
		}
		if replaced {
			continue
		}
		switch {
		case d.flat >= 0:
			if v := e.flattened(d.flat); v != nil {
				w.at(d.segs, true)
				if hide := e.hidden(d.flat); hide != "" && v.Type() == fastjson.TypeObject {
					o, _ := v.Object()
					s.Begin(false)
					w.members(o, false, hide)
					s.End(false)
				} else {
					w.tree(v)
				}
			}
		case d.resources:
			open := false
			e.resources(func(o *fastjson.Object) {
				if !open {
					w.at(d.segs, true)
					s.Begin(true)
					open = true
				}
				s.Begin(false)
				w.members(o, true, "")
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
				w.at(d.segs, true)
				s.Value(vals[0])
			default:
				w.at(d.segs, true)
				s.Begin(true)
				for _, v := range vals {
					s.Value(v)
				}
				s.End(true)
			}
		}
	}
	for ; i < len(extra); i++ {
		w.extra(extra[i])
	}
	for range w.open {
		s.End(false)
	}
}

// position is where extra[i] goes: the index of the first entry whose path
// is not below its own; len(docEntries) when there is none, or no extra i.
func position(extra []Extra, i int) int {
	if i >= len(extra) {
		return len(docEntries)
	}
	return sort.Search(len(docEntries), func(k int) bool { return docEntries[k].path >= extra[i].Path })
}

// docEntry is one member of the document at a dotted path: a field, the
// resources, or a flattened payload.
type docEntry struct {
	path      string
	segs      []string // path split at its dots
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
	for i := range ds {
		ds[i].segs = strings.Split(ds[i].path, ".")
	}
	return ds
}()

// scratch is what a Walk reuses from the last: the values of a field, the
// members of a payload object, the path of the objects open.
type scratch struct {
	vals []Value
	kvs  []member
	open []string
}

var scratchPool = sync.Pool{New: func() any {
	return &scratch{vals: make([]Value, 0, 8), kvs: make([]member, 0, 32), open: make([]string, 0, 8)}
}}

type walker struct {
	e    *Event
	s    Sink
	open []string // the objects open below the top level, by name
	kvs  []member // scratch for the members of payload objects
}

type member struct {
	key string
	v   *fastjson.Value
}

// at closes and opens objects so that the next member is the one at the
// path segs, and writes its key; names tells that segs are the document's
// own names.
func (w *walker) at(segs []string, names bool) {
	last := len(segs) - 1
	c := 0
	for c < len(w.open) && c < last && w.open[c] == segs[c] {
		c++
	}
	for range len(w.open) - c {
		w.s.End(false)
	}
	w.open = w.open[:c]
	for _, seg := range segs[c:last] {
		w.key(seg, names)
		w.s.Begin(false)
		w.open = append(w.open, seg)
	}
	w.key(segs[last], names)
}

func (w *walker) key(k string, name bool) {
	if name {
		w.s.Name(k)
	} else {
		w.s.Key(k)
	}
}

func (w *walker) extra(x Extra) {
	var buf [8]string
	segs, rest := buf[:0], x.Path
	for {
		head, tail, ok := strings.Cut(rest, ".")
		segs = append(segs, head)
		if !ok {
			break
		}
		rest = tail
	}
	w.at(segs, false)
	w.s.Value(x.Value)
}

// tree writes a payload value as plain does: without missing members.
func (w *walker) tree(v *fastjson.Value) {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		w.s.Begin(false)
		w.members(o, false, "")
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

// members writes an object's members that are not missing, but the one
// named hide; a key that comes again later is left to its last occurrence.
// resource renames the keys a resource's ARN and account id have in
// Document.
func (w *walker) members(o *fastjson.Object, resource bool, hide string) {
	start := len(w.kvs)
	o.Visit(func(k []byte, v *fastjson.Value) {
		if missing(v) || hide != "" && string(k) == hide {
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
