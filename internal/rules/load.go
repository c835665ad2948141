package rules

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"github.com/newterms/newterms/internal/kql"
)

// Report says what loading found: rules loaded, files skipped and why, and
// files that failed, each with file:line:col.
type Report struct {
	Loaded  []*Rule
	Skipped []Skip
	Failed  []Failure
	// Notes are remarks on loaded rules, such as query fields that events
	// never hold (treated as missing, as Kibana does).
	Notes []string
}

// Skip is a rule file that is valid but not one to run here.
type Skip struct {
	File, Name, Reason string
}

// Failure is a rule file that could not be loaded.
type Failure struct {
	File      string
	Line, Col int
	Msg       string
}

func (f Failure) Error() string {
	if f.Line == 0 {
		return fmt.Sprintf("%s: %s", f.File, f.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", f.File, f.Line, f.Col, f.Msg)
}

// cloudTrailIndex stands for our events when a rule's index patterns are
// matched: Elastic's CloudTrail data stream.
const cloudTrailIndex = "logs-aws.cloudtrail-default"

// file is the detection-rules TOML layout; unknown keys are ignored.
type file struct {
	Metadata struct {
		Maturity string `toml:"maturity"`
	} `toml:"metadata"`
	Rule struct {
		Type        string   `toml:"type"`
		Language    string   `toml:"language"`
		Query       string   `toml:"query"`
		Name        string   `toml:"name"`
		RuleID      string   `toml:"rule_id"`
		Description string   `toml:"description"`
		Severity    string   `toml:"severity"`
		RiskScore   int      `toml:"risk_score"`
		Tags        []string `toml:"tags"`
		Index       []string `toml:"index"`
		Threat      []struct {
			Framework string `toml:"framework"`
			Tactic    Ref    `toml:"tactic"`
			Technique []struct {
				ID           string `toml:"id"`
				Name         string `toml:"name"`
				Reference    string `toml:"reference"`
				Subtechnique []Ref  `toml:"subtechnique"`
			} `toml:"technique"`
		} `toml:"threat"`
		NewTerms *struct {
			Field              string   `toml:"field"`
			Value              []string `toml:"value"`
			HistoryWindowStart []struct {
				Field string `toml:"field"`
				Value string `toml:"value"`
			} `toml:"history_window_start"`
		} `toml:"new_terms"`
	} `toml:"rule"`
}

// Load reads rule files (*.toml) from the given files and directories,
// recursively, and compiles those that apply into a Set. Problems with
// single files are in the report; err is only for a path that cannot be
// read at all.
func Load(paths ...string) (*Set, *Report, error) { return LoadWith(nil, paths...) }

// LoadWith is Load with extra rules (inline ones) added to the set.
func LoadWith(extra []*Rule, paths ...string) (*Set, *Report, error) {
	rep := &Report{}
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, nil, fmt.Errorf("rules: %w", err)
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		err = filepath.WalkDir(p, func(f string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && strings.HasPrefix(d.Name(), ".") && f != p {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(d.Name(), ".toml") {
				files = append(files, f)
			}
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("rules: %w", err)
		}
	}
	sort.Strings(files)
	var candidates []*Rule
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			rep.Failed = append(rep.Failed, Failure{File: f, Msg: err.Error()})
			continue
		}
		r, skip, fail := Parse(f, data)
		switch {
		case fail != nil:
			rep.Failed = append(rep.Failed, *fail)
		case skip != "":
			rep.Skipped = append(rep.Skipped, Skip{File: f, Name: r.Name, Reason: skip})
		default:
			candidates = append(candidates, r)
		}
	}
	set, err := build(append(candidates, extra...), rep)
	return set, rep, err
}

// build compiles candidates into a set; a rule that clashes with an
// earlier one (same rule_id) fails alone.
func build(candidates []*Rule, rep *Report) (*Set, error) {
	var kept []*Rule
	ids := map[string]*Rule{}
	for _, r := range candidates {
		if prev, dup := ids[r.ID]; dup {
			rep.Failed = append(rep.Failed, Failure{File: cmp.Or(r.File, "inline rule"), Msg: fmt.Sprintf("rule_id %s is already used by %s", r.ID, cmp.Or(prev.File, "the inline rule"))})
			continue
		}
		ids[r.ID] = r
		kept = append(kept, r)
	}
	set, err := NewSet(kept)
	if err != nil {
		return nil, err
	}
	rep.Loaded = append(rep.Loaded, set.Rules()...)
	for _, r := range set.Rules() {
		if u := r.query.Unknown(); len(u) > 0 {
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s: %q: query names fields CloudTrail events never have here, read as missing: %s",
				r.File, r.Name, strings.Join(u, ", ")))
		}
	}
	return set, nil
}

// Parse reads one rule file. It returns the rule, or a reason to skip it,
// or a failure with its position.
func Parse(name string, data []byte) (r *Rule, skip string, fail *Failure) {
	failAt := func(line, col int, format string, args ...any) (*Rule, string, *Failure) {
		return nil, "", &Failure{File: name, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
	}
	var f file
	if err := toml.Unmarshal(data, &f); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			line, col := de.Position()
			return failAt(line, col, "%s", de.Error())
		}
		var se *toml.StrictMissingError
		if errors.As(err, &se) {
			return failAt(0, 0, "%s", se.Error())
		}
		return failAt(0, 0, "%v", err)
	}
	rule := &f.Rule
	r = &Rule{
		ID: rule.RuleID, Name: rule.Name, Description: strings.TrimSpace(rule.Description), Severity: rule.Severity,
		RiskScore: rule.RiskScore, Tags: rule.Tags, Query: rule.Query, File: name,
	}
	for _, t := range rule.Threat {
		th := Threat{Framework: t.Framework, Tactic: t.Tactic}
		for _, tq := range t.Technique {
			th.Techniques = append(th.Techniques, Technique{Ref: Ref{ID: tq.ID, Name: tq.Name, Reference: tq.Reference}, Subtechniques: tq.Subtechnique})
		}
		r.Threat = append(r.Threat, th)
	}
	line := func(key string) (int, int) { return locate(data, key) }
	switch {
	case rule.Type == "":
		return r, "no rule.type: not a detection rule", nil
	case rule.Type != "new_terms":
		return r, fmt.Sprintf("type %q, not new_terms", rule.Type), nil
	case f.Metadata.Maturity == "deprecated":
		return r, "deprecated", nil
	}
	if !appliesToCloudTrail(rule.Index) {
		return r, fmt.Sprintf("not for CloudTrail: index %v does not match %s", rule.Index, cloudTrailIndex), nil
	}
	if rule.RuleID == "" {
		l, c := line("[rule]")
		return failAt(l, c, "rule_id is missing")
	}
	if rule.Language != "kuery" {
		l, c := line("language")
		return failAt(l, c, "language %q: only kuery (KQL) queries are supported", rule.Language)
	}
	nt := rule.NewTerms
	if nt == nil {
		l, c := line("[rule]")
		return failAt(l, c, "[rule.new_terms] is missing")
	}
	if nt.Field != "new_terms_fields" {
		l, c := line("[rule.new_terms]")
		return failAt(l, c, "rule.new_terms.field is %q, want new_terms_fields", nt.Field)
	}
	if n := len(nt.Value); n < 1 || n > 3 {
		l, c := line("[rule.new_terms]")
		return failAt(l, c, "rule.new_terms.value names %d fields, want 1 to 3", n)
	}
	if len(nt.HistoryWindowStart) != 1 {
		l, c := line("[rule.new_terms]")
		return failAt(l, c, "want exactly one [[rule.new_terms.history_window_start]]")
	}
	w, err := ParseWindow(nt.HistoryWindowStart[0].Value)
	if err != nil {
		l, c := line("history_window_start")
		return failAt(l, c, "%v", err)
	}
	r.Fields, r.Window, r.WindowText = nt.Value, w, nt.HistoryWindowStart[0].Value
	for _, fld := range r.Fields {
		if !Known(fld) || isObject(fld) {
			return r, fmt.Sprintf("new_terms field %s is not a field CloudTrail events have here", fld), nil
		}
	}
	if rule.Query == "" {
		l, c := line("[rule]")
		return failAt(l, c, "query is missing")
	}
	q, err := kql.Compile(rule.Query, newRegistry().resolve)
	if err != nil {
		var ke *kql.Error
		if errors.As(err, &ke) {
			l, c := queryPosition(data, rule.Query, ke)
			return failAt(l, c, "query: %s", ke.Msg)
		}
		l, c := line("query")
		return failAt(l, c, "query: %v", err)
	}
	if len(rule.Index) == 0 {
		if u := q.Unknown(); len(u) > 0 {
			return r, fmt.Sprintf("no index, and the query names fields CloudTrail events never have here: %s", strings.Join(u, ", ")), nil
		}
	}
	r.Key = key(r.ID, r.Query, r.Fields, r.Window)
	return r, "", nil
}

// appliesToCloudTrail matches index patterns (globs, comma lists, "-"
// exclusions) against Elastic's CloudTrail data stream. No index at all
// is decided by the query instead.
func appliesToCloudTrail(index []string) bool {
	if len(index) == 0 {
		return true
	}
	for _, pats := range index {
		for _, p := range strings.Split(pats, ",") {
			p = strings.TrimSpace(p)
			if strings.HasPrefix(p, "-") {
				continue
			}
			if ok, _ := path.Match(p, cloudTrailIndex); ok {
				return true
			}
		}
	}
	return false
}

// locate finds the line and column of the first line that starts with key.
func locate(data []byte, key string) (int, int) {
	for i, l := range bytes.Split(data, []byte("\n")) {
		t := bytes.TrimLeft(l, " \t")
		if bytes.HasPrefix(t, []byte(key)) {
			return i + 1, len(l) - len(t) + 1
		}
	}
	return 0, 0
}

// queryPosition maps a KQL error inside the query string to the file.
func queryPosition(data []byte, query string, ke *kql.Error) (int, int) {
	first, _, _ := strings.Cut(query, "\n")
	i := bytes.Index(data, []byte(first))
	if first == "" || i < 0 {
		return locate(data, "query")
	}
	line := 1 + bytes.Count(data[:i], []byte("\n"))
	col := i - bytes.LastIndexByte(data[:i], '\n')
	if ke.Line == 1 {
		return line, col + ke.Col - 1
	}
	return line + ke.Line - 1, ke.Col
}

// Inline builds a rule from the plugin's inline keys, for users without
// rule files.
func Inline(id, name, query string, fields []string, window string) (*Rule, error) {
	if name == "" || query == "" || len(fields) == 0 || window == "" {
		return nil, fmt.Errorf("an inline rule needs a name, a query, fields and a window")
	}
	if len(fields) > 3 {
		return nil, fmt.Errorf("an inline rule takes 1 to 3 fields, not %d", len(fields))
	}
	for _, f := range fields {
		if !Known(f) || isObject(f) {
			return nil, fmt.Errorf("field %s is not a field CloudTrail events have here", f)
		}
	}
	w, err := ParseWindow(window)
	if err != nil {
		return nil, err
	}
	if _, err := kql.Compile(query, newRegistry().resolve); err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	if id == "" {
		id = "inline-" + key("", name, nil, 0)[1:9]
	}
	r := &Rule{ID: id, Name: name, Query: query, Fields: fields, Window: w, WindowText: window,
		Severity: "medium", RiskScore: 47}
	r.Key = key(r.ID, r.Query, r.Fields, r.Window)
	return r, nil
}
