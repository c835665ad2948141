package e2e

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/newterms/newterms/internal/config"
	"github.com/newterms/newterms/internal/engine"
	"github.com/newterms/newterms/internal/testsupport"
)

const sample = "../testdata/cloudtrail/sample.ndjson.gz"

// The example configurations as shipped (conf/), with their /tmp paths
// moved into the test's directory, run as the README says, from the
// repository root: each binary loads them, gives on stdout the alerts the
// engine gives for the bundled sample, survives a hot reload and exits
// on SIGTERM. The demo needs nothing else; the -alerts variants also send
// the alerts to Slack (a local HTTPS server, its certificate not checked)
// and S3 (a local endpoint, uploads every few seconds): the only changes
// the test makes to them.
func TestExampleConfigs(t *testing.T) {
	var want []string // computed once, if a binary is found
	eachBinary(t, false, func(t *testing.T, bin string) {
		if want == nil {
			want = sampleAlerts(t)
		}
		for _, name := range []string{"fluent-bit.conf", "fluent-bit.yaml", "fluent-bit-alerts.conf", "fluent-bit-alerts.yaml"} {
			t.Run(name, func(t *testing.T) {
				dir := t.TempDir()
				if len(filepath.Join(dir, "newterms-forward.sock")) >= 100 {
					t.Fatalf("%s too long for a unix socket path: use a shorter TMPDIR", dir)
				}
				routes := strings.Contains(name, "alerts")
				slack, s3 := newSink(t, true), newSink(t, false)
				files, _ := filepath.Glob("../conf/*.*")
				for _, f := range files {
					text, err := os.ReadFile(f)
					if err != nil {
						t.Fatal(err)
					}
					conf := strings.ReplaceAll(string(text), "/tmp/newterms-", dir+"/newterms-")
					if routes && strings.HasPrefix(filepath.Base(f), "alerts.") {
						conf = testRoutes(t, conf, strings.HasSuffix(f, ".yaml"), s3.url)
					}
					if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), []byte(conf), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				demo := filepath.Join(dir, "newterms-demo")
				if err := os.Mkdir(demo, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(demo, "sample.ndjson"), testsupport.Gunzip(t, sample), 0o644); err != nil {
					t.Fatal(err)
				}
				var env []string
				if routes {
					env = []string{"SLACK_WEBHOOK_URL=" + slack.url + "/services/T000/B000/XXXX", "ALERTS_BUCKET=alerts",
						"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION=us-east-1"}
				}
				// The paths inside are relative to the repository root, as
				// when a user runs them from there.
				fb := startFluentBitIn(t, bin, filepath.Join(dir, name), filepath.Join(dir, "fluent-bit.log"), "..", env...)
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
				if routes {
					waitFor(t, "the alerts in Slack", alertLimit, procs, func() bool { return has(slack.ids(), want) })
					waitFor(t, "the alerts in S3", alertLimit, procs, func() bool { return has(s3.ids(), want) })
				}
				fb.signal(syscall.SIGHUP)
				waitFor(t, "the hot reload", reloadLimit, procs, func() bool { return fb.count(initMark) >= 2 })
				fb.stop()
				verdict(t, want, stdout())
			})
		}
	})
}

// testRoutes points the shipped Slack and S3 outputs at the test's
// servers: Slack's certificate is the test server's own, S3's endpoint is
// local, and uploads are single PUTs every few seconds.
func testRoutes(t *testing.T, conf string, yaml bool, s3 string) string {
	t.Helper()
	var r *strings.Replacer
	if yaml {
		r = strings.NewReplacer(
			"      webhook: ${SLACK_WEBHOOK_URL}\n", "      webhook: ${SLACK_WEBHOOK_URL}\n      tls.verify: off\n",
			"      upload_timeout: 1m\n", "      upload_timeout: 5s\n      use_put_object: on\n      endpoint: "+s3+"\n")
	} else {
		r = strings.NewReplacer(
			"    webhook     ${SLACK_WEBHOOK_URL}\n", "    webhook     ${SLACK_WEBHOOK_URL}\n    tls.verify  off\n",
			"    upload_timeout  1m\n", "    upload_timeout  5s\n    use_put_object  on\n    endpoint        "+s3+"\n")
	}
	out := r.Replace(conf)
	if strings.Count(out, "tls.verify") != 1 || strings.Count(out, "endpoint") != 1 {
		t.Fatalf("the test's overrides did not apply to:\n%s", conf)
	}
	return out
}

// sink is a local HTTP(S) server standing for Slack or S3: it keeps what
// is posted or put.
type sink struct {
	url    string
	mu     sync.Mutex
	bodies [][]byte
}

func newSink(t *testing.T, tls bool) *sink {
	t.Helper()
	s := &sink{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.bodies = append(s.bodies, b)
		s.mu.Unlock()
		w.Header().Set("ETag", `"0"`)
		w.WriteHeader(http.StatusOK)
	})
	var srv *httptest.Server
	if tls {
		srv = httptest.NewTLSServer(h)
	} else {
		srv = httptest.NewServer(h)
	}
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

// ids counts the alert ids in what the sink received.
func (s *sink) ids() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	got := map[string]int{}
	for _, b := range s.bodies {
		for _, m := range alertIDAnyQuote.FindAllSubmatch(b, -1) {
			got[string(m[1])]++
		}
	}
	return got
}

// alertIDAnyQuote finds alert ids also in a Slack message, whose text is
// the record as msgpack prints it ("key"=>"value"), quoted as JSON.
var alertIDAnyQuote = regexp.MustCompile(`alert_id\\?"(?::|=>)\\?"([0-9a-f]{32})`)

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
