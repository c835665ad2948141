package cloudtrail

import (
	"encoding/json"
	"strings"

	"github.com/valyala/fastjson"
)

// Document builds the whole ECS document of the event as nested maps, with
// values copied out of the decoder's buffers so that it outlives the event.
// It is for output (normalize, alerts), not for the detection path.
func (e *Event) Document() map[string]any {
	doc := map[string]any{}
	var vals []Value
	for _, name := range fieldNames {
		if strings.HasPrefix(name, "aws.cloudtrail.resources.") {
			continue
		}
		vals = e.Get(name, vals[:0])
		switch {
		case len(vals) == 0:
			continue
		case len(vals) == 1 && !fieldTable[name].array:
			setPath(doc, name, vals[0].any())
		default:
			list := make([]any, len(vals))
			for i, v := range vals {
				list[i] = v.any()
			}
			setPath(doc, name, list)
		}
	}
	var res []any
	e.resources(func(o *fastjson.Object) {
		m := map[string]any{}
		o.Visit(func(k []byte, v *fastjson.Value) {
			key := string(k)
			switch key {
			case "ARN":
				key = "arn"
			case "accountId":
				key = "account_id"
			}
			if !missing(v) {
				m[key] = plain(v)
			}
		})
		res = append(res, m)
	})
	if res != nil {
		setPath(doc, "aws.cloudtrail.resources", res)
	}
	for i, p := range flattenedPrefixes {
		if v := e.flattened(i); v != nil {
			pv := plain(v)
			if m, ok := pv.(map[string]any); ok && e.hidden(i) != "" {
				delete(m, e.hidden(i))
			}
			setPath(doc, p.ecs, pv)
		}
	}
	return doc
}

// MarshalJSON renders Document; keys come out sorted.
func (e *Event) MarshalJSON() ([]byte, error) { return json.Marshal(e.Document()) }

// setPath stores v at a dotted path, creating the objects on the way.
func setPath(doc map[string]any, path string, v any) {
	for {
		head, rest, more := strings.Cut(path, ".")
		if !more {
			doc[head] = v
			return
		}
		next, ok := doc[head].(map[string]any)
		if !ok {
			next = map[string]any{}
			doc[head] = next
		}
		doc, path = next, rest
	}
}

// plain converts a JSON value into Go values without the entries that
// remove-nulls drops; numbers stay json.Number so they print as written.
func plain(v *fastjson.Value) any {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		m := map[string]any{}
		o.Visit(func(k []byte, c *fastjson.Value) {
			if !missing(c) {
				m[string(k)] = plain(c)
			}
		})
		return m
	case fastjson.TypeArray:
		a, _ := v.Array()
		list := []any{}
		for _, c := range a {
			if !missing(c) {
				list = append(list, plain(c))
			}
		}
		return list
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return string(b)
	case fastjson.TypeNumber:
		return json.Number(v.MarshalTo(nil))
	case fastjson.TypeTrue:
		return true
	case fastjson.TypeFalse:
		return false
	}
	return nil
}
