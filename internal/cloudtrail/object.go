package cloudtrail

import (
	"strings"

	"github.com/valyala/fastjson"
)

// Object paths are the paths with fields below them and no value of their
// own: "user", "aws.cloudtrail", a flattened payload as a whole. A KQL
// query `path: *` holds when any field below one has a value, as
// Elasticsearch's exists query does on an object; its getter yields the
// values of every field below it, so that a caller can tell.
var objectPaths = func() map[string]bool {
	paths := map[string]bool{"aws.cloudtrail.resources": true}
	for _, p := range flattenedPrefixes {
		paths[p.ecs] = true
	}
	parents := func(name string) {
		for i := strings.LastIndexByte(name, '.'); i > 0; i = strings.LastIndexByte(name[:i], '.') {
			paths[name[:i]] = true
		}
	}
	for name := range fieldTable {
		parents(name)
	}
	for p := range paths {
		parents(p)
	}
	return paths
}()

// IsObject reports whether field is an object path: one that holds other
// fields and no value of its own.
func IsObject(field string) bool { return objectPaths[field] }

// objectGetter yields the values of every field below the object path p.
func objectGetter(p string) Getter {
	prefix := p + "."
	var gets []Getter
	for _, name := range fieldNames {
		if _, fixed := fieldTable[name]; fixed && strings.HasPrefix(name, prefix) {
			gets = append(gets, fieldTable[name].get)
		}
	}
	var objects []int
	for i, f := range flattenedPrefixes {
		if f.ecs == p || strings.HasPrefix(f.ecs, prefix) {
			objects = append(objects, i)
		}
	}
	resources := p == "aws.cloudtrail.resources" || strings.HasPrefix("aws.cloudtrail.resources", prefix)
	return func(e *Event, dst []Value) []Value {
		for _, g := range gets {
			dst = g(e, dst)
		}
		for _, i := range objects {
			if v := e.flattened(i); v != nil {
				dst = e.allLeaves(v, e.hidden(i), dst)
			}
		}
		if resources {
			e.resources(func(o *fastjson.Object) {
				o.Visit(func(_ []byte, v *fastjson.Value) { dst = e.allLeaves(v, "", dst) })
			})
		}
		return dst
	}
}

// allLeaves appends every scalar below v, but those under the top-level
// key hide.
func (e *Event) allLeaves(v *fastjson.Value, hide string, dst []Value) []Value {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		o.Visit(func(k []byte, c *fastjson.Value) {
			if hide == "" || string(k) != hide {
				dst = e.allLeaves(c, "", dst)
			}
		})
	case fastjson.TypeArray:
		a, _ := v.Array()
		for _, c := range a {
			dst = e.allLeaves(c, "", dst)
		}
	default:
		if s, ok := e.scalar(v); ok {
			dst = append(dst, s)
		}
	}
	return dst
}
