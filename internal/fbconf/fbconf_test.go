package fbconf

import (
	"errors"
	"io/fs"
	"path"
	"sort"
	"strings"
	"testing"
)

// memFS is a configuration tree in memory: absolute paths under /etc/fb,
// the working directory /work.
type memFS map[string]string

func (m memFS) options(env map[string]string) Options {
	return Options{
		Dir: "/work",
		ReadFile: func(name string) ([]byte, error) {
			if !path.IsAbs(name) {
				name = path.Join("/work", name)
			}
			s, ok := m[path.Clean(name)]
			if !ok {
				return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
			}
			return []byte(s), nil
		},
		Glob: func(pattern string) ([]string, error) {
			var out []string
			for name := range m {
				if ok, _ := path.Match(pattern, name); ok {
					out = append(out, name)
				}
			}
			sort.Strings(out)
			return out, nil
		},
		Getenv: func(name string) (string, bool) { v, ok := env[name]; return v, ok },
	}
}

// dump is a configuration as text: a line per section and property.
func dump(c *Config) string {
	var b strings.Builder
	for _, s := range c.Sections {
		b.WriteString(s.Pos.String() + " [" + s.Kind + "]\n")
		for _, p := range s.Props {
			b.WriteString("  " + p.Pos.String() + " " + p.Key + "=" + p.Value + "\n")
		}
	}
	for _, p := range c.Plugins {
		b.WriteString("plugin " + p.Pos.String() + " " + p.Value + "\n")
	}
	for _, w := range c.Warnings {
		b.WriteString("warning " + w.Error() + "\n")
	}
	return b.String()
}

func TestLoad(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files memFS
		env   map[string]string
		main  string
		want  string // dump, or the error
	}{
		{"classic", memFS{"/etc/fb/fb.conf": "# a comment\n[SERVICE]\n    Flush  1\r\n    # indented comment\n\n[OUTPUT]\n    Name   newterms\n    Match  cloud*\n    rules  a, b  \n"},
			nil, "/etc/fb/fb.conf",
			"/etc/fb/fb.conf:2 [service]\n  /etc/fb/fb.conf:3 Flush=1\n/etc/fb/fb.conf:6 [output]\n  /etc/fb/fb.conf:7 Name=newterms\n  /etc/fb/fb.conf:8 Match=cloud*\n  /etc/fb/fb.conf:9 rules=a, b\n"},
		{"tabs, consistently", memFS{"/etc/fb/fb.conf": "[INPUT]\n\tName tail\n\tTag x\n"}, nil, "/etc/fb/fb.conf",
			"/etc/fb/fb.conf:1 [input]\n  /etc/fb/fb.conf:2 Name=tail\n  /etc/fb/fb.conf:3 Tag=x\n"},
		{"variables", memFS{"/etc/fb/fb.conf": "@SET ADDR=unix:///run/fwd.sock\n[OUTPUT]\n    forward_address ${ADDR}\n    state_dir ${STATE}/x\n    tag ${TAG:-newterms.alert}\n    hook ${HOOK}\n    empty ${EMPTY:-fallback}\n"},
			map[string]string{"STATE": "/var/lib", "EMPTY": ""}, "/etc/fb/fb.conf",
			"/etc/fb/fb.conf:2 [output]\n  /etc/fb/fb.conf:3 forward_address=unix:///run/fwd.sock\n  /etc/fb/fb.conf:4 state_dir=/var/lib/x\n  /etc/fb/fb.conf:5 tag=newterms.alert\n  /etc/fb/fb.conf:6 hook=\n  /etc/fb/fb.conf:7 empty=fallback\nwarning /etc/fb/fb.conf:6: variable ${HOOK} is used but not set\n"},
		{"@SET after its use applies too", memFS{"/etc/fb/fb.conf": "[OUTPUT]\n    a ${X}\n@SET X=1\n"}, nil, "/etc/fb/fb.conf",
			"/etc/fb/fb.conf:1 [output]\n  /etc/fb/fb.conf:2 a=1\n"},
		{"include: the working directory, then the main file's", memFS{
			"/etc/fb/fb.conf": "@INCLUDE in.conf\n@INCLUDE sub/*.conf\n", "/etc/fb/in.conf": "[INPUT]\n    Name a\n",
			"/work/in.conf": "[INPUT]\n    Name cwd\n", "/etc/fb/sub/b.conf": "[OUTPUT]\n    Name b\n", "/etc/fb/sub/a.conf": "[OUTPUT]\n    Name a\n"},
			nil, "/etc/fb/fb.conf",
			"in.conf:1 [input]\n  in.conf:2 Name=cwd\n/etc/fb/sub/a.conf:1 [output]\n  /etc/fb/sub/a.conf:2 Name=a\n/etc/fb/sub/b.conf:1 [output]\n  /etc/fb/sub/b.conf:2 Name=b\n"},
		{"include missing", memFS{"/etc/fb/fb.conf": "[SERVICE]\n    a 1\n@INCLUDE nothere.conf\n"}, nil, "/etc/fb/fb.conf",
			"error /etc/fb/fb.conf:3: cannot read /etc/fb/nothere.conf: file does not exist"},
		{"include glob without a match", memFS{"/etc/fb/fb.conf": "@INCLUDE x/*.conf\n"}, nil, "/etc/fb/fb.conf",
			"error /etc/fb/fb.conf:1: include x/*.conf: no file matches"},
		{"include cycle", memFS{"/etc/fb/fb.conf": "@INCLUDE b.conf\n", "/etc/fb/b.conf": "@INCLUDE fb.conf\n"}, nil, "/etc/fb/fb.conf",
			"error /etc/fb/b.conf:1: /etc/fb/fb.conf is included twice (Fluent Bit refuses a file read twice)"},
		{"main file missing", memFS{}, nil, "/etc/fb/none.conf", "error /etc/fb/none.conf: cannot read /etc/fb/none.conf: file does not exist"},
		{"bad header", memFS{"/etc/fb/fb.conf": "[OUTPUT\n"}, nil, "/etc/fb/fb.conf", "error /etc/fb/fb.conf:1: bad header definition: a section is [NAME]"},
		{"key without value", memFS{"/etc/fb/fb.conf": "[OUTPUT]\n    Name\n"}, nil, "/etc/fb/fb.conf", "error /etc/fb/fb.conf:2: undefined value: a property is KEY VALUE"},
		{"empty value", memFS{"/etc/fb/fb.conf": "[OUTPUT]\n    Name \n"}, nil, "/etc/fb/fb.conf", "error /etc/fb/fb.conf:2: key has an empty value"},
		{"outside a section", memFS{"/etc/fb/fb.conf": "    Name x\n"}, nil, "/etc/fb/fb.conf", "error /etc/fb/fb.conf:1: a property outside any section"},
		{"indentation too low", memFS{"/etc/fb/fb.conf": "[A]\n    a 1\n  b 2\n"}, nil, "/etc/fb/fb.conf", "error /etc/fb/fb.conf:3: invalid indentation level: indentation level is too low"},
		{"tab after spaces", memFS{"/etc/fb/fb.conf": "[A]\n    a 1\n\tb 2\n"}, nil, "/etc/fb/fb.conf", "error /etc/fb/fb.conf:3: invalid indentation level: inconsistent use of tab and space"},
		{"extra indentation", memFS{"/etc/fb/fb.conf": "[A]\n    a 1\n      b 2\n"}, nil, "/etc/fb/fb.conf", "error /etc/fb/fb.conf:3: invalid indentation level: extra indentation level found"},
		{"a group's keys are not the section's", memFS{"/etc/fb/fb.conf": "[A]\n    a 1\n    [g] x\n        b 2\n    c 3\n"}, nil, "/etc/fb/fb.conf",
			"/etc/fb/fb.conf:1 [a]\n  /etc/fb/fb.conf:2 a=1\n  /etc/fb/fb.conf:5 c=3\n"},
		{"a section without keys", memFS{"/etc/fb/fb.conf": "[A]\n[B]\n    b 1\n"}, nil, "/etc/fb/fb.conf",
			"/etc/fb/fb.conf:1 [a]\n/etc/fb/fb.conf:2 [b]\n  /etc/fb/fb.conf:3 b=1\nwarning /etc/fb/fb.conf:1: section [A] has no keys\n"},

		{"yaml", memFS{"/etc/fb/fb.yaml": `env:
  DIR: /var/lib
includes:
  - inc/outputs.yaml
service:
  flush: 1
  hot_reload: on
plugins:
  - /opt/out_newterms.so
pipeline:
  inputs:
    - name: forward
      unix_path: ${DIR}/fwd.sock
      processors:
        logs:
          - name: content_modifier
  outputs:
    - name: newterms
      rules: [a, "b"]
      state_dir: ${DIR}/nt
`, "/etc/fb/inc/outputs.yaml": "pipeline:\n  outputs:\n    - name: stdout\n      match: '*'\n"}, nil, "/etc/fb/fb.yaml",
			"/etc/fb/inc/outputs.yaml:3 [output]\n  /etc/fb/inc/outputs.yaml:3 name=stdout\n  /etc/fb/inc/outputs.yaml:4 match=*\n" +
				"/etc/fb/fb.yaml:5 [service]\n  /etc/fb/fb.yaml:6 flush=1\n  /etc/fb/fb.yaml:7 hot_reload=on\n" +
				"/etc/fb/fb.yaml:12 [input]\n  /etc/fb/fb.yaml:12 name=forward\n  /etc/fb/fb.yaml:13 unix_path=/var/lib/fwd.sock\n" +
				"/etc/fb/fb.yaml:18 [output]\n  /etc/fb/fb.yaml:18 name=newterms\n  /etc/fb/fb.yaml:19 rules=a\n  /etc/fb/fb.yaml:19 rules=b\n  /etc/fb/fb.yaml:20 state_dir=/var/lib/nt\n" +
				"plugin /etc/fb/fb.yaml:9 /opt/out_newterms.so\n"},
		{"yaml env as a list", memFS{"/etc/fb/fb.yml": "env:\n  - name: X\n    value: 5\nservice:\n  flush: ${X}\n"}, nil, "/etc/fb/fb.yml",
			"/etc/fb/fb.yml:4 [service]\n  /etc/fb/fb.yml:5 flush=5\n"},
		{"yaml syntax", memFS{"/etc/fb/fb.yaml": "service:\n  flush: 1\n pipeline: [\n"}, nil, "/etc/fb/fb.yaml", "error /etc/fb/fb.yaml:3: YAML:"},
		{"yaml not a mapping", memFS{"/etc/fb/fb.yaml": "- a\n- b\n"}, nil, "/etc/fb/fb.yaml", "error /etc/fb/fb.yaml:1: a Fluent Bit YAML configuration is a mapping (service, pipeline, ...)"},
		{"yaml bad pipeline component", memFS{"/etc/fb/fb.yaml": "pipeline:\n  outptus:\n    - name: x\n"}, nil, "/etc/fb/fb.yaml",
			"error /etc/fb/fb.yaml:2: the pipeline component \"outptus\" is not valid: want customs, inputs, filters or outputs"},
		{"yaml include missing", memFS{"/etc/fb/fb.yaml": "includes:\n  - none.yaml\n"}, nil, "/etc/fb/fb.yaml", "error /etc/fb/fb.yaml:2: cannot read /etc/fb/none.yaml: file does not exist"},
		{"yaml output not a mapping", memFS{"/etc/fb/fb.yaml": "pipeline:\n  outputs:\n    - newterms\n"}, nil, "/etc/fb/fb.yaml", "error /etc/fb/fb.yaml:3: output: want a mapping of keys to values"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(tc.main, tc.files.options(tc.env))
			var got string
			if err != nil {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("not an *Error: %T %v", err, err)
				}
				got = "error " + err.Error()
			} else {
				got = dump(c)
			}
			if strings.HasPrefix(tc.want, "error ") && strings.HasPrefix(got, tc.want) {
				return
			}
			if got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestAccessors(t *testing.T) {
	c, err := Load("/f.conf", memFS{"/f.conf": "[SERVICE]\n    Hot_Reload off\n[OUTPUT]\n    Name NewTerms\n    Match a\n    match b\n[SERVICE]\n    hot_reload on\n"}.options(nil))
	if err != nil {
		t.Fatal(err)
	}
	out := c.Of("output")
	if len(out) != 1 || out[0].Name() != "newterms" || out[0].Value("MATCH") != "a" || out[0].Value("none") != "" {
		t.Errorf("output %+v", out)
	}
	if p, ok := c.Service("hot_reload"); !ok || p.Value != "on" || p.Pos.Line != 8 {
		t.Errorf("service hot_reload %+v", p)
	}
}

// Any input gives a configuration or an Error at a place; never a panic
// (Load turns one into an error saying so, which the target refuses).
func FuzzLoad(f *testing.F) {
	f.Add([]byte("[SERVICE]\n    Flush 1\n@INCLUDE inc.conf\n[OUTPUT]\n    Name newterms\n    rules ${X:-a}\n"), false)
	f.Add([]byte("[A]\n    a 1\n    [g] x\n        b 2\n  c 3\n\tx\n"), false)
	f.Add([]byte("env:\n  X: 1\nincludes: [inc.yaml]\npipeline:\n  outputs:\n    - name: newterms\n      rules: [a, b]\n      p: {x: 1}\n"), true)
	f.Add([]byte("a: &x [1, *x]\nservice: !!map {flush: |\n  1\n}\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, yaml bool) {
		main := "/etc/fb/fb.conf"
		if yaml {
			main = "/etc/fb/fb.yaml"
		}
		files := memFS{main: string(data), "/etc/fb/inc.conf": "[INPUT]\n    Name tail\n", "/etc/fb/inc.yaml": "service:\n  flush: 1\n"}
		c, err := Load(main, files.options(map[string]string{"X": "1"}))
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Pos.File == "" || e.Pos.Line < 0 || strings.Contains(e.Msg, "could not be read: ") {
				t.Fatalf("%v", err)
			}
			return
		}
		for _, s := range c.Sections {
			if s.Pos.File == "" {
				t.Fatalf("a section without a place: %+v", s)
			}
		}
	})
}
