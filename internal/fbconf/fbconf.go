// Package fbconf reads a Fluent Bit configuration as Fluent Bit 3.2 to
// 5.1 do: the classic format (src/config_format/flb_cf_fluentbit.c: its
// indentation rules, @INCLUDE with globs, @SET) and YAML
// (flb_cf_yaml.c: env, includes, service, pipeline), with ${VAR} and
// ${VAR:-default} expanded in values from @SET, the YAML env section and
// the environment. A file Fluent Bit could not read gives an Error naming
// the file and line; nothing here panics on any input.
package fbconf

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Pos is a place in a configuration file.
type Pos struct {
	File string
	Line int // 1-based; 0: the file as a whole
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// Error is a problem at a place: `file:line: message`.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// Prop is one property of a section.
type Prop struct {
	Key   string // as written
	Value string // with variables expanded
	Raw   string // as written
	Pos   Pos
}

// Section is one section: [SERVICE], [INPUT], [OUTPUT]... in the classic
// format; service, each item of pipeline's inputs, filters and outputs,
// and so on, in YAML.
type Section struct {
	Kind  string // lower case: service, input, filter, output, custom, parser, ...
	Pos   Pos
	Props []Prop
}

// Get is the first property of the key (keys are not case sensitive).
func (s *Section) Get(key string) (Prop, bool) {
	for _, p := range s.Props {
		if strings.EqualFold(p.Key, key) {
			return p, true
		}
	}
	return Prop{}, false
}

// Value is the first value of the key, "" when unset.
func (s *Section) Value(key string) string {
	p, _ := s.Get(key)
	return p.Value
}

// Name is the section's plugin name (its `name` property).
func (s *Section) Name() string { return strings.ToLower(strings.TrimSpace(s.Value("name"))) }

// Config is a configuration read, its includes with it.
type Config struct {
	Sections []*Section
	// Files are the files read, the main one first.
	Files []string
	// Plugins are the shared objects the configuration loads: a YAML
	// plugins list (the [PLUGINS] sections of a Plugins_File are not read).
	Plugins []Prop
	// Warnings are what Fluent Bit warns about and goes on with: a
	// variable used but not set, a section without keys.
	Warnings []*Error
}

// Of returns the sections of a kind.
func (c *Config) Of(kind string) []*Section {
	var out []*Section
	for _, s := range c.Sections {
		if s.Kind == kind {
			out = append(out, s)
		}
	}
	return out
}

// Service is the value of a service key ("" when unset): the last
// service section that sets it wins, as Fluent Bit applies them in order.
func (c *Config) Service(key string) (Prop, bool) {
	var found Prop
	ok := false
	for _, s := range c.Of("service") {
		if p, has := s.Get(key); has {
			found, ok = p, true
		}
	}
	return found, ok
}

// Options change how a configuration is read; the zero value reads files
// from the operating system and variables from the environment.
type Options struct {
	// ReadFile reads a file; Glob expands an @INCLUDE or includes pattern.
	ReadFile func(name string) ([]byte, error)
	Glob     func(pattern string) ([]string, error)
	// Getenv looks a variable up in the environment: ok false when unset.
	// Fluent Bit treats a variable set to "" as unset.
	Getenv func(name string) (string, bool)
	// Dir is the working directory, against which Fluent Bit first tries
	// a relative @INCLUDE: "" for the process's.
	Dir string
}

// maxFiles bounds the files of one configuration, as Fluent Bit's
// FLB_CF_FILE_NUM_LIMIT does.
const maxFiles = 1000

type loader struct {
	opts  Options
	cfg   *Config
	vars  map[string]string // @SET and the YAML env section
	root  string            // the main file's directory
	files map[string]bool   // cleaned absolute paths read
}

// Load reads the configuration at path: YAML when its name ends in .yaml
// or .yml, the classic format otherwise, as Fluent Bit decides.
func Load(path string, opts Options) (cfg *Config, err error) {
	if opts.ReadFile == nil {
		opts.ReadFile = os.ReadFile
	}
	if opts.Glob == nil {
		opts.Glob = filepath.Glob
	}
	if opts.Getenv == nil {
		opts.Getenv = os.LookupEnv
	}
	l := &loader{opts: opts, cfg: &Config{}, vars: map[string]string{}, files: map[string]bool{}}
	defer func() {
		// Bad input never crashes the caller: a panic below (in the YAML
		// library, say) is this file's error.
		if r := recover(); r != nil {
			cfg, err = nil, &Error{Pos{File: path}, fmt.Sprintf("could not be read: %v", r)}
		}
	}()
	l.root = filepath.Dir(l.abs(path))
	if err := l.file(path, Pos{}); err != nil {
		return nil, err
	}
	l.expand()
	return l.cfg, nil
}

func isYAML(path string) bool {
	ext := strings.ToLower(filepath.Ext(path))
	return ext == ".yaml" || ext == ".yml"
}

func (l *loader) abs(path string) string {
	if filepath.IsAbs(path) {
		return filepath.Clean(path)
	}
	dir := l.opts.Dir
	if dir == "" {
		dir, _ = os.Getwd()
	}
	return filepath.Join(dir, path)
}

// file reads one file (the main one, or one included from at).
func (l *loader) file(path string, at Pos) error {
	if len(l.files) >= maxFiles {
		return &Error{at, fmt.Sprintf("more than %d configuration files", maxFiles)}
	}
	key := l.abs(path)
	if l.files[key] {
		return &Error{at, fmt.Sprintf("%s is included twice (Fluent Bit refuses a file read twice)", path)}
	}
	data, err := l.opts.ReadFile(path)
	if err != nil {
		msg := fmt.Sprintf("cannot read %s: %v", path, unwrapPath(err))
		if at.File == "" {
			return &Error{Pos{File: path}, msg}
		}
		return &Error{at, msg}
	}
	l.files[key] = true
	l.cfg.Files = append(l.cfg.Files, path)
	if isYAML(path) {
		return l.yaml(path, data)
	}
	return l.classic(path, data)
}

// unwrapPath drops the path an fs.PathError repeats.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (l *loader) warn(at Pos, format string, a ...any) {
	l.cfg.Warnings = append(l.cfg.Warnings, &Error{at, fmt.Sprintf(format, a...)})
}

// include reads the files of an include directive: a glob when the path
// has '*', relative paths against base.
func (l *loader) include(path string, at Pos, base string, tryCwd bool) error {
	if strings.Contains(path, "*") {
		pattern := path
		if !filepath.IsAbs(pattern) {
			pattern = filepath.Join(base, pattern)
		}
		matches, err := l.opts.Glob(pattern)
		if err != nil || len(matches) == 0 {
			return &Error{at, fmt.Sprintf("include %s: no file matches", path)}
		}
		slices.Sort(matches)
		for _, m := range matches {
			if err := l.file(m, at); err != nil {
				return err
			}
		}
		return nil
	}
	if !filepath.IsAbs(path) {
		// Classic: Fluent Bit tries the working directory, then the main
		// file's directory; YAML: the including file's directory.
		if !tryCwd {
			path = filepath.Join(base, path)
		} else if _, err := l.opts.ReadFile(l.abs(path)); err != nil {
			path = filepath.Join(base, path)
		}
	}
	return l.file(path, at)
}

// expand replaces variables in every value, once all of @SET and env are
// known (Fluent Bit applies them before any section).
func (l *loader) expand() {
	for _, s := range l.cfg.Sections {
		for i := range s.Props {
			s.Props[i].Value = l.expandValue(s.Props[i].Raw, s.Props[i].Pos)
		}
	}
	for i := range l.cfg.Plugins {
		l.cfg.Plugins[i].Value = l.expandValue(l.cfg.Plugins[i].Raw, l.cfg.Plugins[i].Pos)
	}
}

// expandValue is flb_env_var_translate: ${NAME}, and ${NAME:-default}
// when NAME is unset or empty; an unset variable without a default is
// replaced by nothing, with a warning.
func (l *loader) expandValue(v string, at Pos) string {
	if !strings.Contains(v, "${") {
		return v
	}
	var b strings.Builder
	for {
		i := strings.Index(v, "${")
		if i < 0 {
			break
		}
		j := strings.IndexByte(v[i:], '}')
		if j < 0 {
			break
		}
		name := v[i+2 : i+j]
		def, hasDef := "", false
		if k := strings.Index(name, ":-"); k >= 0 {
			name, def, hasDef = name[:k], name[k+2:], true
		}
		b.WriteString(v[:i])
		val, ok := l.lookup(name)
		switch {
		case ok && !(hasDef && val == ""):
			b.WriteString(val)
		case hasDef:
			b.WriteString(def)
		default:
			l.warn(at, "variable ${%s} is used but not set", name)
		}
		v = v[i+j+1:]
	}
	b.WriteString(v)
	return b.String()
}

func (l *loader) lookup(name string) (string, bool) {
	if v, ok := l.vars[name]; ok {
		return v, true
	}
	v, ok := l.opts.Getenv(name)
	if v == "" {
		return "", false
	}
	return v, ok
}
