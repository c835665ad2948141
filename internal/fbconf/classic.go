package fbconf

import (
	"bytes"
	"strings"
)

// classic reads a file of the classic format, line by line, with Fluent
// Bit's rules (read_config in src/config_format/flb_cf_fluentbit.c):
//   - a line starting with # is a comment; so is # after the indentation;
//   - @INCLUDE FILE (a glob when it holds *) and @SET KEY=VALUE;
//   - [NAME] starts a section;
//   - the first property line of the file sets the indentation (its first
//     character and the blanks after it), which every property line of
//     the file must then start with; a line indented twice as much is a
//     group's (multiline parser rules);
//   - KEY VALUE, split at the first space, both trimmed; a key without a
//     value, or a property before any section, is an error.
func (l *loader) classic(path string, data []byte) error {
	var (
		cur     *Section
		nkeys   int
		indent  []byte
		inGroup bool
	)
	for n, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSuffix(line, []byte("\r"))
		// fgets and strlen: a NUL ends the line.
		if i := bytes.IndexByte(line, 0); i >= 0 {
			line = line[:i]
		}
		at := Pos{path, n + 1}
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		if len(line) > 9 && strings.EqualFold(string(line[:9]), "@INCLUDE ") {
			if err := l.include(string(line[9:]), at, l.root, true); err != nil {
				return err
			}
			continue
		}
		if line[0] == '@' && len(line) > 3 {
			l.meta(string(line), at)
			continue
		}
		if line[0] == '[' {
			end := bytes.IndexByte(line, ']')
			if end <= 0 {
				return &Error{at, "bad header definition: a section is [NAME]"}
			}
			if cur != nil && nkeys == 0 {
				l.warn(cur.Pos, "section [%s] has no keys", strings.ToUpper(cur.Kind))
			}
			cur = &Section{Kind: strings.ToLower(strings.TrimSpace(string(line[1:end]))), Pos: at}
			l.cfg.Sections = append(l.cfg.Sections, cur)
			nkeys, inGroup = 0, false
			continue
		}
		if indent == nil {
			i := 1
			for i < len(line) && isBlank(line[i]) {
				i++
			}
			indent = append([]byte{}, line[:i]...)
			if i == len(line) {
				continue
			}
		}
		level, group, msg := checkIndent(line, indent)
		if msg != "" {
			return &Error{at, "invalid indentation level: " + msg}
		}
		if !group {
			inGroup = false
		}
		if level >= len(line) || line[level] == '#' {
			continue
		}
		body := line[level:]
		sp := bytes.IndexByte(body, ' ')
		if sp < 0 {
			return &Error{at, "undefined value: a property is KEY VALUE"}
		}
		key := body[:sp]
		if key[0] == '[' {
			if bytes.IndexByte(body, ']') < 0 {
				return &Error{at, "expected a valid group name: [..]"}
			}
			if cur == nil {
				return &Error{at, "a group outside any section"}
			}
			inGroup, nkeys = true, 0
			continue
		}
		val := body[sp+1:]
		if len(val) == 0 {
			return &Error{at, "key has an empty value"}
		}
		if cur == nil {
			return &Error{at, "a property outside any section"}
		}
		nkeys++
		if inGroup {
			continue // a group's properties belong to no plugin's keys
		}
		v := strings.TrimSpace(string(val))
		cur.Props = append(cur.Props, Prop{Key: strings.TrimSpace(string(key)), Raw: v, Pos: at})
	}
	if cur != nil && nkeys == 0 {
		l.warn(cur.Pos, "section [%s] has no keys", strings.ToUpper(cur.Kind))
	}
	return nil
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// checkIndent is Fluent Bit's check_indent: the line must start with the
// indentation; more blanks, exactly as many again, make a group's line.
func checkIndent(line, indent []byte) (level int, group bool, msg string) {
	for level < len(indent) && level < len(line) && line[level] == indent[level] {
		level++
	}
	if level < len(indent) {
		if level < len(line) && isBlank(line[level]) {
			return 0, false, "inconsistent use of tab and space"
		}
		return 0, false, "indentation level is too low"
	}
	if level < len(line) && isBlank(line[level]) {
		extra := 0
		for level+extra < len(line) && isBlank(line[level+extra]) {
			extra++
		}
		if extra == level {
			return level + extra, true, ""
		}
		return 0, false, "extra indentation level found"
	}
	return level, false, ""
}

// meta handles @SET KEY=VALUE (Fluent Bit sets the variable for the whole
// configuration); other meta commands are left to Fluent Bit.
func (l *loader) meta(line string, at Pos) {
	cmd, arg, ok := strings.Cut(line[1:], " ")
	if !ok {
		l.warn(at, "meta command %q without an argument", line)
		return
	}
	if !strings.EqualFold(cmd, "SET") {
		return
	}
	k, v, ok := strings.Cut(arg, "=")
	if !ok {
		l.warn(at, "@SET %s: want KEY=VALUE", strings.TrimSpace(arg))
		return
	}
	l.vars[strings.TrimSpace(k)] = strings.TrimSpace(v)
}
