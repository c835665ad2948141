package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// good is a configuration that passes: the example's settings.
const good = `[SERVICE]
    Hot_Reload   on
    Plugins_File /etc/fluent-bit/plugins.conf
[INPUT]
    Name         forward
    Unix_Path    /run/fwd.sock
    threaded     off
    storage.type filesystem
[OUTPUT]
    Name            newterms
    Match           cloudtrail
    rules           ../../conf/rules
    asn_database    ../../testdata/asn/GeoLite2-ASN-Test.mmdb
    state_dir       /var/lib/newterms
    forward_address unix:///run/fwd.sock
    Retry_Limit     no_limits
[OUTPUT]
    Name  stdout
    Match newterms.*
`

func TestConfigCheck(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []string // the lines printed before the summary
		code  int
	}{
		{"good", map[string]string{"fb.conf": good}, nil, 0},
		{"misspelled and bad keys, each at its line", map[string]string{"fb.conf": strings.NewReplacer(
			"    state_dir ", "    stat_dir ",
			"    Retry_Limit     no_limits", "    Retry_Limit     no_limits\n    learnin off\n    cache_size 10k\n    max_tuples 0").Replace(good)},
			[]string{
				"fb.conf:9: state_dir is missing: set it to the directory of the seen state and the alert outbox; created 0700; one instance per directory",
				`fb.conf:14: unknown key "stat_dir": did you mean "state_dir"?`,
				`fb.conf:17: unknown key "learnin": did you mean "learning"?`,
				`fb.conf:18: cache_size = "10k": at least 1m`,
				`fb.conf:19: max_tuples = "0": want a whole number from 1 to 100000`,
			}, 1},
		{"workers with hot reload", map[string]string{"fb.conf": strings.Replace(good, "    Retry_Limit     no_limits", "    Retry_Limit     no_limits\n    workers 1", 1)},
			[]string{`fb.conf:17: workers 1 with hot_reload on (fb.conf:2): Fluent Bit 3.2 to 5.1 start two worker pools for a Go output and a reload crashes the process; leave workers unset (README, "No workers on the newterms output")`}, 1},
		{"workers without hot reload", map[string]string{"fb.conf": strings.NewReplacer("    Hot_Reload   on\n", "", "    Retry_Limit     no_limits", "    Retry_Limit     no_limits\n    workers 2").Replace(good)},
			[]string{"fb.conf:16: warning: workers 2: chunks are checked concurrently, in no fixed order (max_lateness makes decisions independent of it), and a hot reload would crash Fluent Bit"}, 0},
		{"match catches the alert tag, tag on the forward input", map[string]string{"fb.conf": strings.NewReplacer("    Match           cloudtrail", "    Match           *",
			"    threaded     off", "    threaded     off\n    Tag          x").Replace(good)},
			[]string{`fb.conf:8: the forward input newterms delivers to (unix:///run/fwd.sock) has a tag: it would overwrite the alert tags`,
				`fb.conf:12: this output's match catches its own alert tag "newterms.alert": alerts would loop back into it`}, 1},
		{"two instances on one state_dir", map[string]string{"fb.conf": good + strings.NewReplacer("    Match           cloudtrail", "    Match           other", "    Name            newterms", "    Name            newterms\n    Alias two").Replace(good[strings.Index(good, "[OUTPUT]"):strings.Index(good, "[OUTPUT]\n    Name  stdout")])},
			[]string{"fb.conf:26: state_dir /var/lib/newterms is also the state of the newterms output at fb.conf:14: one instance per state directory (the second fails at init)"}, 1},
		{"shared key mismatch, threaded input, memory storage", map[string]string{"fb.conf": strings.NewReplacer("    threaded     off\n    storage.type filesystem", "    threaded     on\n    Shared_Key   s3cret",
			"    Retry_Limit     no_limits", "    Retry_Limit     no_limits\n    forward_shared_key other").Replace(good)},
			[]string{"fb.conf:4: warning: the forward input newterms delivers to keeps alerts in memory: a crash loses acknowledged alerts; set storage.type filesystem (and a service storage.path)",
				"fb.conf:7: warning: threaded forward input: it acknowledges alerts before they reach a chunk file, and a crash then loses alerts the plugin has already deleted: set threaded off",
				"fb.conf:17: forward_shared_key differs from the shared_key of the forward input at fb.conf:4: the handshake fails and alerts stay in the outbox"}, 1},
		{"no route, no forward input, no retry limit, relative plugins file", map[string]string{"fb.conf": strings.NewReplacer("/etc/fluent-bit/plugins.conf", "plugins.conf",
			"    Unix_Path    /run/fwd.sock", "    Unix_Path    /run/other.sock", "    Retry_Limit     no_limits\n", "", "    Match newterms.*", "    Match x").Replace(good)},
			[]string{"fb.conf:3: warning: plugins_file plugins.conf is relative: a hot reload resolves it against the working directory, not the configuration's, and halts when it finds no plugin; make it absolute (e.g. ${PWD}/...)",
				"fb.conf:9: warning: no output matches the alert tag \"newterms.alert\": alerts come back into Fluent Bit and go nowhere",
				"fb.conf:9: warning: no retry_limit: Fluent Bit retries a chunk once, then drops it; a chunk the plugin cannot commit yet (a full disk under state_dir) is lost: set retry_limit no_limits",
				"fb.conf:15: warning: no forward input of this configuration listens on unix:///run/fwd.sock: alerts go to another Fluent Bit, or nowhere"}, 0},
		{"rules and database that do not open", map[string]string{"fb.conf": strings.NewReplacer("../../conf/rules", "no/such/rules", "GeoLite2-ASN-Test.mmdb", "none.mmdb").Replace(good)},
			[]string{"fb.conf:12: rules: ", "fb.conf:13: asn database ../../testdata/asn/none.mmdb: "}, 1},
		{"an include, a variable and YAML", map[string]string{
			"fb.yaml": "includes:\n  - in.yaml\nenv:\n  DIR: /var/lib\npipeline:\n  outputs:\n    - name: newterms\n      match: cloudtrail\n      rules: ../../conf/rules\n      state_dir: ${DIR}/nt\n      forward_address: tcp://127.0.0.1:24224\n      retry_limit: no_limits\n      prefilter: maybe\n",
			"in.yaml": "pipeline:\n  inputs:\n    - name: forward\n      port: 24224\n      storage.type: filesystem\n  outputs:\n    - name: file\n      match: newterms.*\n"},
			[]string{`fb.yaml:13: prefilter = "maybe": want on or off`}, 1},
		{"yaml: a key given twice", map[string]string{"fb.yaml": "pipeline:\n  outputs:\n    - name: newterms\n      match: x\n      rules: [a, b]\n      state_dir: /s\n      forward_address: unix:///f.sock\n      retry_limit: no_limits\n    - name: stdout\n      match: '*'\n"},
			[]string{"fb.yaml:5: rules is given twice (first at line 5): Fluent Bit 5.1.1 refuses that, older versions show the plugin one of them",
				"fb.yaml:7: warning: no forward input of this configuration listens on unix:///f.sock"}, 1},
		{"unparsable", map[string]string{"fb.conf": "[OUTPUT]\n    Name newterms\n  Match x\n"},
			[]string{"fb.conf:3: invalid indentation level: indentation level is too low"}, 1},
		{"no newterms output", map[string]string{"fb.conf": "[OUTPUT]\n    Name stdout\n    Match *\n"},
			[]string{"fb.conf: no newterms output in this configuration"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			main := ""
			for name, text := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
				if strings.HasPrefix(name, "fb.") {
					main = name
				}
			}
			// Relative names, as a user types them; rule paths relative to
			// this package (the checker reads from the working directory).
			args := []string{"config", "check", filepath.Join(dir, main)}
			if strings.Contains(tc.name, "YAML") || strings.Contains(tc.name, "yaml") {
				args = []string{"config", "check", "--skip-files", filepath.Join(dir, main)}
			}
			code, out, errs := runCLI(t, "", args...)
			lines := strings.Split(strings.TrimSpace(strings.ReplaceAll(out, dir+"/", "")), "\n")
			summary := lines[len(lines)-1]
			lines = lines[:len(lines)-1]
			if code != tc.code || errs != "" || !strings.Contains(summary, " newterms outputs checked, ") {
				t.Errorf("exit %d (want %d), stderr %q, summary %q", code, tc.code, errs, summary)
			}
			var got []string
			for _, l := range lines {
				if !strings.Contains(l, "warning: variable") { // the environment's
					got = append(got, l)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tc.want[i]) {
					t.Errorf("line %d:\n got %s\nwant %s", i, got[i], tc.want[i])
				}
			}
		})
	}
}

// The shipped configurations pass.
func TestConfigCheckShipped(t *testing.T) {
	for _, name := range []string{"fluent-bit.conf", "fluent-bit.yaml", "fluent-bit-alerts.conf", "fluent-bit-alerts.yaml"} {
		t.Run(name, func(t *testing.T) {
			t.Chdir("../..")
			wd, err := os.Getwd()
			if err != nil {
				t.Fatal(err)
			}
			t.Setenv("PWD", wd)
			t.Setenv("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T/B/X")
			t.Setenv("ALERTS_BUCKET", "alerts")
			code, out, errs := runCLI(t, "", "config", "check", filepath.Join("conf", name))
			if code != 0 || strings.Contains(out, "warning:") || errs != "" {
				t.Errorf("exit %d\n%s%s", code, out, errs)
			}
		})
	}
}

func TestConfigCheckUsage(t *testing.T) {
	for _, args := range [][]string{{"config"}, {"config", "lint", "x"}, {"config", "check"}, {"config", "check", "a", "b"}} {
		if code, _, _ := runCLI(t, "", args...); code != 2 {
			t.Errorf("%v: exit %d", args, code)
		}
	}
}
