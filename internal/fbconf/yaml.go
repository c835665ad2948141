package fbconf

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	goyaml "github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// yaml reads a file of Fluent Bit's YAML format (src/config_format/
// flb_cf_yaml.c): a mapping of env, includes, service, pipeline (inputs,
// filters, outputs), customs, parsers, multiline_parsers, plugins and
// others. Includes are relative to the including file's directory.
func (l *loader) yaml(path string, data []byte) error {
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		var ye goyaml.Error
		if errors.As(err, &ye) && ye.GetToken() != nil {
			return &Error{Pos{path, ye.GetToken().Position.Line}, "YAML: " + ye.GetMessage()}
		}
		return &Error{Pos{File: path}, "YAML: " + err.Error()}
	}
	for _, doc := range f.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		top, ok := unwrap(doc.Body).(*ast.MappingNode)
		if !ok {
			if _, null := unwrap(doc.Body).(*ast.NullNode); null {
				continue
			}
			return &Error{l.pos(path, doc.Body), "a Fluent Bit YAML configuration is a mapping (service, pipeline, ...)"}
		}
		// env and includes first: Fluent Bit applies variables before
		// any section, wherever they are written.
		for _, kv := range top.Values {
			switch strings.ToLower(key(kv)) {
			case "env":
				if err := l.yamlEnv(path, kv.Value); err != nil {
					return err
				}
			}
		}
		for _, kv := range top.Values {
			k := strings.ToLower(key(kv))
			at := l.pos(path, kv)
			var err error
			switch k {
			case "env":
			case "includes":
				err = l.yamlIncludes(path, kv.Value)
			case "service":
				err = l.yamlSection(path, "service", kv.Value, at)
			case "pipeline":
				err = l.yamlPipeline(path, kv.Value)
			case "plugins":
				err = l.yamlPlugins(path, kv.Value)
			case "customs", "parsers", "multiline_parsers", "upstream_servers":
				err = l.yamlList(path, strings.TrimSuffix(k, "s"), kv.Value)
			default:
				// stream_processor, extensions and the like: Fluent Bit
				// keeps them aside; nothing here concerns plugins.
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func (l *loader) pos(path string, n ast.Node) Pos {
	if n == nil || n.GetToken() == nil {
		return Pos{File: path}
	}
	return Pos{path, n.GetToken().Position.Line}
}

// unwrap looks through anchors and tags to the node they mark.
func unwrap(n ast.Node) ast.Node {
	for i := 0; i < 64 && n != nil; i++ {
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.TagNode:
			n = v.Value
		case *ast.MappingKeyNode:
			n = v.Value
		default:
			return n
		}
	}
	return n
}

func key(kv *ast.MappingValueNode) string {
	if kv == nil || kv.Key == nil {
		return ""
	}
	s, _ := scalar(kv.Key)
	return s
}

// scalar is a scalar node's text as written (unquoted); ok false for a
// mapping, a sequence or an alias.
func scalar(n ast.Node) (string, bool) {
	switch v := unwrap(n).(type) {
	case nil:
		return "", true
	case *ast.NullNode:
		return "", true
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		if v.Value == nil {
			return "", true
		}
		return v.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		if t := v.GetToken(); t != nil {
			return t.Value, true
		}
		return "", true
	}
	return "", false
}

func (l *loader) yamlEnv(path string, n ast.Node) error {
	switch v := unwrap(n).(type) {
	case *ast.NullNode:
		return nil
	case *ast.MappingNode:
		for _, kv := range v.Values {
			val, ok := scalar(kv.Value)
			if !ok {
				return &Error{l.pos(path, kv), fmt.Sprintf("env %s: want a value", key(kv))}
			}
			l.vars[key(kv)] = val
		}
		return nil
	case *ast.SequenceNode:
		// The list form: name, value (or uri, read by Fluent Bit itself).
		for _, item := range v.Values {
			m, ok := unwrap(item).(*ast.MappingNode)
			if !ok {
				return &Error{l.pos(path, item), "env: want items of name and value"}
			}
			var name, value string
			for _, kv := range m.Values {
				s, _ := scalar(kv.Value)
				switch strings.ToLower(key(kv)) {
				case "name":
					name = s
				case "value":
					value = s
				}
			}
			if name == "" {
				return &Error{l.pos(path, item), "env: an item without a name"}
			}
			l.vars[name] = value
		}
		return nil
	}
	return &Error{l.pos(path, n), "env: want a mapping of names to values"}
}

func (l *loader) yamlIncludes(path string, n ast.Node) error {
	var items []ast.Node
	switch v := unwrap(n).(type) {
	case *ast.NullNode:
		return nil
	case *ast.SequenceNode:
		items = v.Values
	default:
		items = []ast.Node{n}
	}
	for _, item := range items {
		p, ok := scalar(item)
		if !ok || p == "" {
			return &Error{l.pos(path, item), "includes: want file names"}
		}
		if err := l.include(p, l.pos(path, item), filepath.Dir(path), false); err != nil {
			return err
		}
	}
	return nil
}

func (l *loader) yamlPlugins(path string, n ast.Node) error {
	var items []ast.Node
	switch v := unwrap(n).(type) {
	case *ast.NullNode:
		return nil
	case *ast.SequenceNode:
		items = v.Values
	default:
		items = []ast.Node{n}
	}
	for _, item := range items {
		p, ok := scalar(item)
		if !ok {
			return &Error{l.pos(path, item), "plugins: want paths of shared objects"}
		}
		l.cfg.Plugins = append(l.cfg.Plugins, Prop{Key: "path", Raw: p, Pos: l.pos(path, item)})
	}
	return nil
}

func (l *loader) yamlPipeline(path string, n ast.Node) error {
	m, ok := unwrap(n).(*ast.MappingNode)
	if !ok {
		if _, null := unwrap(n).(*ast.NullNode); null {
			return nil
		}
		return &Error{l.pos(path, n), "pipeline: want a mapping of inputs, filters and outputs"}
	}
	for _, kv := range m.Values {
		switch k := strings.ToLower(key(kv)); k {
		case "inputs", "filters", "outputs", "customs":
			if err := l.yamlList(path, strings.TrimSuffix(k, "s"), kv.Value); err != nil {
				return err
			}
		default:
			return &Error{l.pos(path, kv), fmt.Sprintf("the pipeline component %q is not valid: want customs, inputs, filters or outputs", key(kv))}
		}
	}
	return nil
}

// yamlList reads a list of plugin sections of one kind.
func (l *loader) yamlList(path, kind string, n ast.Node) error {
	switch v := unwrap(n).(type) {
	case *ast.NullNode:
		return nil
	case *ast.SequenceNode:
		for _, item := range v.Values {
			if err := l.yamlSection(path, kind, item, l.pos(path, item)); err != nil {
				return err
			}
		}
		return nil
	}
	return &Error{l.pos(path, n), fmt.Sprintf("%ss: want a list", kind)}
}

// yamlSection reads one section: a mapping of keys to scalars, or to
// lists of scalars (the key given once per item). Nested mappings
// (processors) belong to no plugin's keys and are passed over.
func (l *loader) yamlSection(path, kind string, n ast.Node, at Pos) error {
	m, ok := unwrap(n).(*ast.MappingNode)
	if !ok {
		if _, null := unwrap(n).(*ast.NullNode); null && kind == "service" {
			return nil
		}
		return &Error{at, fmt.Sprintf("%s: want a mapping of keys to values", kind)}
	}
	s := &Section{Kind: kind, Pos: at}
	for _, kv := range m.Values {
		k := key(kv)
		kat := l.pos(path, kv)
		if v, ok := scalar(kv.Value); ok {
			s.Props = append(s.Props, Prop{Key: k, Raw: v, Pos: kat})
			continue
		}
		switch v := unwrap(kv.Value).(type) {
		case *ast.SequenceNode:
			for _, item := range v.Values {
				if sv, ok := scalar(item); ok {
					s.Props = append(s.Props, Prop{Key: k, Raw: sv, Pos: l.pos(path, item)})
				}
			}
		case *ast.MappingNode:
		case *ast.AliasNode:
			return &Error{kat, fmt.Sprintf("%s: aliases are not supported", k)}
		}
	}
	l.cfg.Sections = append(l.cfg.Sections, s)
	return nil
}
