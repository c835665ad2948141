package e2e

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/newterms/newterms/internal/config"
	"github.com/newterms/newterms/internal/engine"
	"github.com/newterms/newterms/internal/testsupport"
)

const sample = "../testdata/cloudtrail/sample.ndjson.gz"

// The example configurations as shipped (conf/), with their /tmp paths
// moved into the test's directory and the Slack and S3 outputs left out
// (they would reach the network): each binary loads them, gives on stdout
// the alerts the engine gives for the bundled sample, survives a hot
// reload and exits on SIGTERM.
func TestExampleConfigs(t *testing.T) {
	var want []string // computed once, if a binary is found
	eachBinary(t, false, func(t *testing.T, bin string) {
		if want == nil {
			want = sampleAlerts(t)
		}
		for _, name := range []string{"fluent-bit.conf", "fluent-bit.yaml"} {
			t.Run(name, func(t *testing.T) {
				dir := t.TempDir()
				text, err := os.ReadFile(filepath.Join("../conf", name))
				if err != nil {
					t.Fatal(err)
				}
				conf := filepath.Join(dir, name)
				offline := withoutOutputs(string(text), strings.HasSuffix(name, ".yaml"), "slack", "s3")
				if err := os.WriteFile(conf, []byte(strings.ReplaceAll(offline, "/tmp/newterms-", dir+"/newterms-")), 0o644); err != nil {
					t.Fatal(err)
				}
				if len(filepath.Join(dir, "newterms-forward.sock")) >= 100 {
					t.Fatalf("%s too long for a unix socket path: use a shorter TMPDIR", dir)
				}
				demo := filepath.Join(dir, "newterms-demo")
				if err := os.Mkdir(demo, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(demo, "sample.ndjson"), testsupport.Gunzip(t, sample), 0o644); err != nil {
					t.Fatal(err)
				}
				// The paths inside are relative to the repository root, as
				// when a user runs them from there.
				fb := startFluentBitIn(t, bin, conf, filepath.Join(dir, "fluent-bit.log"), "..")
				procs := []*fluentBit{fb}
				stdout := func() map[string]int {
					b, _ := os.ReadFile(fb.log)
					got := map[string]int{}
					for _, m := range alertID.FindAllSubmatch(b, -1) {
						got[string(m[1])]++
					}
					return got
				}
				waitFor(t, "the sample's alerts on stdout", alertLimit, procs, func() bool { return has(stdout(), want) })
				fb.signal(syscall.SIGHUP)
				waitFor(t, "the hot reload", reloadLimit, procs, func() bool { return fb.count(initMark) >= 2 })
				fb.stop()
				verdict(t, want, stdout())
			})
		}
	})
}

// sampleAlerts runs the engine over the sample with conf/ 's rules and
// returns the alert ids: what `newterms replay` prints.
func sampleAlerts(t *testing.T) []string {
	t.Helper()
	cfg := config.Default(config.Plugin).Engine
	cfg.Rules = []string{"../conf/rules"}
	cfg.ASNDatabase = asnDB
	cfg.ASNReloadInterval = -1
	cfg.StateDir = t.TempDir()
	eng, err := engine.New(cfg, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	var recs []engine.Record
	sc := bufio.NewScanner(strings.NewReader(string(testsupport.Gunzip(t, sample))))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		recs = append(recs, engine.Record{Data: []byte(sc.Text())})
	}
	if _, err := eng.Process(recs); err != nil {
		t.Fatal(err)
	}
	alerts, err := eng.State().Outbox(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range alerts {
		m := alertID.FindSubmatch(a.Doc)
		if m == nil {
			t.Fatalf("an alert without newterms.alert_id: %s", a.Doc)
		}
		ids = append(ids, string(m[1]))
	}
	if len(ids) == 0 {
		t.Fatal("the sample gives no alert: the test tests nothing")
	}
	slices.Sort(ids)
	return ids
}

var (
	confSection = regexp.MustCompile(`(?m)^\[`)
	confName    = regexp.MustCompile(`(?mi)^\s*name\s+(\S+)\s*$`)
	yamlItem    = regexp.MustCompile(`^(\s*)- name:\s*(\S+)\s*$`)
)

// withoutOutputs drops the outputs of the named plugins from a classic or
// YAML configuration.
func withoutOutputs(text string, yaml bool, names ...string) string {
	var b strings.Builder
	if !yaml {
		starts := append(confSection.FindAllStringIndex(text, -1), []int{len(text), len(text)})
		b.WriteString(text[:starts[0][0]])
		for i := 0; i+1 < len(starts); i++ {
			sec := text[starts[i][0]:starts[i+1][0]]
			if m := confName.FindStringSubmatch(sec); strings.HasPrefix(sec, "[OUTPUT]") && m != nil && slices.Contains(names, m[1]) {
				continue
			}
			b.WriteString(sec)
		}
		return b.String()
	}
	skip := "" // the indentation of the item being dropped
	for _, line := range strings.SplitAfter(text, "\n") {
		if skip != "" {
			indent := len(line) - len(strings.TrimLeft(line, " "))
			if strings.TrimSpace(line) == "" || indent > len(skip) {
				continue
			}
			skip = ""
		}
		if m := yamlItem.FindStringSubmatch(strings.TrimRight(line, "\n")); m != nil && slices.Contains(names, m[2]) {
			skip = m[1]
			continue
		}
		b.WriteString(line)
	}
	return b.String()
}
