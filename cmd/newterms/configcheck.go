package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/agnivade/levenshtein"

	"github.com/newterms/newterms/internal/asn"
	"github.com/newterms/newterms/internal/config"
	"github.com/newterms/newterms/internal/fbconf"
	"github.com/newterms/newterms/internal/forward"
	"github.com/newterms/newterms/internal/rules"
)

func runConfig(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	usage := "usage: newterms config check [--skip-files] FILE"
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	fl := flag.NewFlagSet("config check", flag.ContinueOnError)
	fl.SetOutput(stderr)
	skipFiles := fl.Bool("skip-files", false, "do not open the rule files and ASN databases named (relative paths are read from the current directory, as Fluent Bit run from here would)")
	fl.Usage = func() {
		fmt.Fprintln(stderr, usage)
		fmt.Fprintln(stderr, "Checks the newterms outputs of a Fluent Bit configuration (classic or YAML, with its includes and ${VAR}s) and prints each problem as file:line: message; exits 1 if there is an error.")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args[1:]); err != nil {
		return 2
	}
	if fl.NArg() != 1 {
		fl.Usage()
		return 2
	}
	diags, n := checkConfig(fl.Arg(0), fbconf.Options{}, !*skipFiles)
	errs := 0
	for _, d := range diags {
		fmt.Fprintln(stdout, d)
		if !d.warning {
			errs++
		}
	}
	fmt.Fprintf(stdout, "%s: %d newterms outputs checked, %d errors, %d warnings\n", fl.Arg(0), n, errs, len(diags)-errs)
	if errs > 0 {
		return 1
	}
	return 0
}

// diag is one problem found.
type diag struct {
	pos     fbconf.Pos
	warning bool
	msg     string
}

func (d diag) String() string {
	if d.warning {
		return d.pos.String() + ": warning: " + d.msg
	}
	return d.pos.String() + ": " + d.msg
}

// outputKeys are the keys Fluent Bit itself takes on every output
// (flb_output_set_property, output_global_properties): they are never the
// plugin's, and Fluent Bit accepts them whatever the plugin declares.
var outputKeys = []string{"name", "match", "match_regex", "alias", "log_level", "log_suppress_interval", "retry_limit",
	"workers", "storage.total_limit_size", "host", "port", "ipv6", "tls", "active", "condition", "processors"}

var outputPrefixes = []string{"tls.", "net.", "_debug.http."}

func isOutputKey(k string) bool {
	return slices.Contains(outputKeys, k) || slices.ContainsFunc(outputPrefixes, func(p string) bool { return strings.HasPrefix(k, p) })
}

// nearest is the known key closest to an unknown one, if close enough to
// be a misspelling.
func nearest(k string) string {
	best, dist := "", 1<<30
	for _, c := range append(keyNames(), outputKeys...) {
		if d := levenshtein.ComputeDistance(k, c); d < dist {
			best, dist = c, d
		}
	}
	if dist <= max(2, len(k)/4) {
		return best
	}
	return ""
}

func keyNames() []string {
	var out []string
	for _, k := range config.Keys() {
		out = append(out, k.Name)
	}
	return out
}

// checkConfig reads the configuration and checks every newterms output in
// it; it returns the problems, in file and line order, and how many
// outputs it checked. files: open the rule files and ASN databases named.
func checkConfig(path string, opts fbconf.Options, files bool) ([]diag, int) {
	cfg, err := fbconf.Load(path, opts)
	if err != nil {
		var e *fbconf.Error
		if errors.As(err, &e) {
			return []diag{{pos: e.Pos, msg: e.Msg}}, 0
		}
		return []diag{{pos: fbconf.Pos{File: path}, msg: err.Error()}}, 0
	}
	c := &checker{cfg: cfg, files: files, stateDirs: map[string]fbconf.Pos{}}
	for _, w := range cfg.Warnings {
		c.warn(w.Pos, "%s", w.Msg)
	}
	outputs := 0
	for _, s := range cfg.Of("output") {
		if s.Name() == "newterms" {
			outputs++
			c.output(s)
		}
	}
	if outputs == 0 {
		c.fail(fbconf.Pos{File: path}, "no newterms output in this configuration")
	}
	c.service()
	slices.SortStableFunc(c.diags, func(a, b diag) int {
		return cmp.Or(cmp.Compare(a.pos.File, b.pos.File), cmp.Compare(a.pos.Line, b.pos.Line))
	})
	return c.diags, outputs
}

type checker struct {
	cfg       *fbconf.Config
	files     bool
	diags     []diag
	stateDirs map[string]fbconf.Pos
	workers   []fbconf.Prop // newterms outputs' workers above 0
}

func (c *checker) fail(at fbconf.Pos, format string, a ...any) {
	c.diags = append(c.diags, diag{pos: at, msg: fmt.Sprintf(format, a...)})
}

func (c *checker) warn(at fbconf.Pos, format string, a ...any) {
	c.diags = append(c.diags, diag{pos: at, warning: true, msg: fmt.Sprintf(format, a...)})
}

// output checks one newterms output section.
func (c *checker) output(s *fbconf.Section) {
	keys := map[string]string{} // the plugin's keys, lower case
	first := map[string]fbconf.Prop{}
	for _, p := range s.Props {
		k := strings.ToLower(p.Key)
		if prev, dup := first[k]; dup {
			c.fail(p.Pos, "%s is given twice (first at line %d): Fluent Bit 5.1.1 refuses that, older versions show the plugin one of them", k, prev.Pos.Line)
			continue
		}
		first[k] = p
		switch {
		case isOutputKey(k):
		case slices.Contains(keyNames(), k):
			keys[k] = p.Value
		default:
			if n := nearest(k); n != "" {
				c.fail(p.Pos, "unknown key %q: did you mean %q?", p.Key, n)
			} else {
				c.fail(p.Pos, "unknown key %q (keys: %s)", p.Key, strings.Join(keyNames(), ", "))
			}
		}
	}
	at := func(key string) fbconf.Pos {
		if p, ok := first[key]; ok {
			return p.Pos
		}
		return s.Pos
	}
	cfg, err := config.FromMap(config.Plugin, keys)
	for _, ke := range config.KeyErrors(err) {
		c.fail(at(ke.Key), "%v", ke.Err)
		// The rest is checked with the keys that are good.
		delete(keys, ke.Key)
	}
	if err != nil {
		cfg, err = config.FromMap(config.Plugin, keys)
	}
	if err == nil {
		c.openFiles(cfg, at)
		if dir := filepath.Clean(cfg.Engine.StateDir); dir != "" {
			if prev, dup := c.stateDirs[dir]; dup {
				c.fail(at("state_dir"), "state_dir %s is also the state of the newterms output at %s: one instance per state directory (the second fails at init)", dir, prev)
			} else {
				c.stateDirs[dir] = at("state_dir")
			}
		}
		c.routes(s, cfg, at)
	}
	c.fluentBitKeys(s, first)
}

// files opens what init would: the rules and the ASN database.
func (c *checker) openFiles(cfg config.Config, at func(string) fbconf.Pos) {
	if !c.files {
		return
	}
	if len(cfg.Engine.Rules) > 0 {
		set, rep, err := rules.Load(cfg.Engine.Rules...)
		switch {
		case err != nil:
			c.fail(at("rules"), "rules: %v", err)
		case len(rep.Failed) > 0:
			for _, f := range rep.Failed {
				c.fail(at("rules"), "rules: %v", f)
			}
		case len(set.Rules()) == 0 && cfg.Engine.Inline == nil:
			c.fail(at("rules"), "rules: no rule found in %s", strings.Join(cfg.Engine.Rules, ", "))
		}
	}
	if cfg.Engine.ASNDatabase != "" {
		db, err := asn.Open(cfg.Engine.ASNDatabase, asn.Options{ReloadInterval: -1})
		if err != nil {
			c.fail(at("asn_database"), "%v", err)
		} else {
			db.Close()
		}
	}
}

// fluentBitKeys checks the keys Fluent Bit keeps for itself against what
// newterms needs of them (README, "The settings, and why").
func (c *checker) fluentBitKeys(s *fbconf.Section, first map[string]fbconf.Prop) {
	if p, ok := first["workers"]; ok {
		if n, err := strconv.Atoi(strings.TrimSpace(p.Value)); err == nil && n > 0 {
			c.workers = append(c.workers, p)
		}
	}
	if p, ok := first["retry_limit"]; !ok {
		c.warn(s.Pos, "no retry_limit: Fluent Bit retries a chunk once, then drops it; a chunk the plugin cannot commit yet (a full disk under state_dir) is lost: set retry_limit no_limits")
	} else if v := strings.ToLower(strings.TrimSpace(p.Value)); v != "no_limits" && v != "false" {
		c.warn(p.Pos, "retry_limit %s: a chunk the plugin cannot commit for that many retries is dropped: set no_limits", p.Value)
	}
	if p, ok := first["storage.total_limit_size"]; ok {
		c.warn(p.Pos, "storage.total_limit_size: reaching it drops the oldest chunks, CloudTrail never checked")
	}
	if _, ok := first["match"]; !ok {
		if _, ok := first["match_regex"]; !ok {
			c.warn(s.Pos, "no match: the output receives no record")
		}
	}
}

// alertTags are tags the alert tag gives (placeholders filled in).
func alertTags(tag string) []string {
	var out []string
	for _, sev := range []string{"low", "medium", "high", "critical"} {
		out = append(out, strings.NewReplacer("{rule_id}", "rule", "{severity}", sev).Replace(tag))
	}
	return out
}

// catches says whether an output's match (or match_regex) takes tag.
func catches(s *fbconf.Section, tags []string) bool {
	if m, ok := s.Get("match"); ok {
		for _, t := range tags {
			if config.MatchCatches(m.Value, t) {
				return true
			}
		}
	}
	if m, ok := s.Get("match_regex"); ok {
		if re, err := regexp.Compile(m.Value); err == nil && slices.ContainsFunc(tags, re.MatchString) {
			return true
		}
	}
	return false
}

// routes checks where alerts go: not back into the plugin, into a forward
// input that keeps their tag, and on to some output.
func (c *checker) routes(s *fbconf.Section, cfg config.Config, at func(string) fbconf.Pos) {
	tags := alertTags(cfg.Forward.Tag)
	if catches(s, tags) {
		p := at("match")
		if _, ok := s.Get("match"); !ok {
			p = at("match_regex")
		}
		c.fail(p, "this output's match catches its own alert tag %q: alerts would loop back into it", cfg.Forward.Tag)
	}
	if in := c.forwardInput(cfg.Forward.Address); in != nil {
		for _, k := range []string{"tag", "tag_prefix"} {
			if p, ok := in.Get(k); ok && p.Value != "" {
				c.fail(p.Pos, "the forward input newterms delivers to (%s) has a %s: it would overwrite the alert tags", cfg.Forward.Address, k)
			}
		}
		key := in.Value("shared_key")
		if key != cfg.Forward.SharedKey {
			switch {
			case key == "":
				c.fail(at("forward_shared_key"), "forward_shared_key is set, but the forward input at %s has no shared_key: the handshake fails and alerts stay in the outbox", in.Pos)
			default:
				c.fail(at("forward_shared_key"), "forward_shared_key differs from the shared_key of the forward input at %s: the handshake fails and alerts stay in the outbox", in.Pos)
			}
		}
		if strings.EqualFold(strings.TrimSpace(in.Value("threaded")), "on") || strings.EqualFold(strings.TrimSpace(in.Value("threaded")), "true") {
			p, _ := in.Get("threaded")
			c.warn(p.Pos, "threaded forward input: it acknowledges alerts before they reach a chunk file, and a crash then loses alerts the plugin has already deleted: set threaded off")
		}
		if !strings.EqualFold(strings.TrimSpace(in.Value("storage.type")), "filesystem") {
			c.warn(in.Pos, "the forward input newterms delivers to keeps alerts in memory: a crash loses acknowledged alerts; set storage.type filesystem (and a service storage.path)")
		}
	} else {
		c.warn(at("forward_address"), "no forward input of this configuration listens on %s: alerts go to another Fluent Bit, or nowhere", cfg.Forward.Address)
	}
	routed := false
	for _, o := range c.cfg.Of("output") {
		if o != s && catches(o, tags) {
			routed = true
		}
	}
	if !routed {
		c.warn(at("alert_tag"), "no output matches the alert tag %q: alerts come back into Fluent Bit and go nowhere", cfg.Forward.Tag)
	}
}

// forwardInput is the forward input that listens where the plugin
// delivers, or nil.
func (c *checker) forwardInput(address string) *fbconf.Section {
	network, addr, err := forward.ParseAddress(address)
	if err != nil {
		return nil
	}
	for _, in := range c.cfg.Of("input") {
		if in.Name() != "forward" {
			continue
		}
		if network == "unix" {
			if filepath.Clean(in.Value("unix_path")) == filepath.Clean(addr) && in.Value("unix_path") != "" {
				return in
			}
			continue
		}
		if in.Value("unix_path") != "" {
			continue
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			continue
		}
		listen, lport := cmp.Or(in.Value("listen"), "0.0.0.0"), cmp.Or(in.Value("port"), "24224")
		if lport == port && (listen == host || listen == "0.0.0.0" || listen == "::" || host == "localhost" && listen == "127.0.0.1") {
			return in
		}
	}
	return nil
}

// service checks what concerns the whole process: hot reload with
// workers, and a plugins file a reload cannot find again.
func (c *checker) service() {
	reload, ok := c.cfg.Service("hot_reload")
	on := ok && slices.Contains([]string{"on", "true", "yes", "1"}, strings.ToLower(strings.TrimSpace(reload.Value)))
	for _, w := range c.workers {
		if on {
			c.fail(w.Pos, "workers %s with hot_reload on (%s): Fluent Bit 3.2 to 5.1 start two worker pools for a Go output and a reload crashes the process; leave workers unset (README, \"No workers on the newterms output\")", w.Value, reload.Pos)
		} else {
			c.warn(w.Pos, "workers %s: chunks are checked concurrently, in no fixed order (max_lateness makes decisions independent of it), and a hot reload would crash Fluent Bit", w.Value)
		}
	}
	if p, ok := c.cfg.Service("plugins_file"); ok && on && !filepath.IsAbs(p.Value) {
		c.warn(p.Pos, "plugins_file %s is relative: a hot reload resolves it against the working directory, not the configuration's, and halts when it finds no plugin; make it absolute (e.g. ${PWD}/...)", p.Value)
	}
}
