package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/newterms/newterms/internal/seen/seentest"
)

// The commands work against a shared state: a backfill through replay
// fills it once for all nodes, stats, list and compact read it, and copy
// moves a state from a directory to a server and back, the same.
func TestSharedState(t *testing.T) {
	const sample = "../../testdata/cloudtrail/sample.ndjson.gz"
	db := "../../testdata/asn/GeoLite2-ASN-Test.mmdb"
	srv := seentest.StartRedis(t, "--requirepass", "pw-for-tests")
	pwFile := filepath.Join(t.TempDir(), "pw")
	writeFile(t, pwFile, "pw-for-tests\n")
	shared := []string{"--state", srv.Addr(), "--redis-password", "file:" + pwFile, "--redis-key-prefix", "cli"}

	code, out, errs := runCLI(t, "", append(append([]string{"replay", "--rules", "../../conf/rules", "--asn-db", db, "--learn-only", "--workers", "3"}, shared...), sample)...)
	if code != 0 || out != "" || !strings.Contains(errs, "recorded as baseline") {
		t.Fatalf("backfill: exit %d, out %q, %s", code, out, errs)
	}
	code, stats, _ := runCLI(t, "", append([]string{"state", "stats"}, shared...)...)
	if code != 0 || !strings.Contains(stats, "AWS STS Web Identity Role Assumed from a New Network\n  key 7f3c2a10-5b1e-4c55-9d0a-2e6f1b8c4a01:") ||
		!strings.Contains(stats, "covered") || !strings.Contains(stats, "outbox: 0 alerts") {
		t.Fatalf("stats: %d %s", code, stats)
	}
	code, out, _ = runCLI(t, "", append(append([]string{"state", "list", "--limit", "3"}, shared...), "AWS STS Web Identity Role Assumed from a New Network")...)
	if code != 0 || len(strings.Split(strings.TrimSpace(out), "\n")) != 3 || !strings.Contains(out, "arn:aws:iam::111122223333:role/") {
		t.Errorf("list: %s\nstats %s", out, stats)
	}
	if code, out, _ = runCLI(t, "", append([]string{"state", "compact"}, shared...)...); code != 0 || !strings.Contains(out, "removed") {
		t.Errorf("compact: %d %s", code, out)
	}
	_, stats, _ = runCLI(t, "", append([]string{"state", "stats"}, shared...)...)

	// To a directory and back to another prefix: the same stats.
	dir := filepath.Join(t.TempDir(), "state")
	code, out, errs = runCLI(t, "", "state", "copy", "--from", srv.Addr(), "--to", dir, "--redis-password", "file:"+pwFile, "--redis-key-prefix", "cli")
	if code != 0 || !strings.Contains(out, "copied 4 rules, ") {
		t.Fatalf("copy to a directory: %d %s %s", code, out, errs)
	}
	if code, out, _ = runCLI(t, "", "state", "stats", "--state", dir); code != 0 || out != stats {
		t.Errorf("stats of the copy:\n%s\nwant\n%s", out, stats)
	}
	code, out, errs = runCLI(t, "", "state", "copy", "--from", dir, "--to", srv.Addr(), "--redis-password", "file:"+pwFile, "--redis-key-prefix", "cli2")
	if code != 0 || !strings.Contains(out, "copied 4 rules, ") {
		t.Fatalf("copy to a server: %d %s %s", code, out, errs)
	}
	if code, out, _ = runCLI(t, "", "state", "stats", "--state", srv.Addr(), "--redis-password", "file:"+pwFile, "--redis-key-prefix", "cli2"); code != 0 || out != stats {
		t.Errorf("stats of the copy back:\n%s\nwant\n%s", out, stats)
	}
	// Into a state that is not empty: refused.
	code, _, errs = runCLI(t, "", "state", "copy", "--from", dir, "--to", srv.Addr(), "--redis-password", "file:"+pwFile, "--redis-key-prefix", "cli2")
	if code != 1 || !strings.Contains(errs, "holds a state already") {
		t.Errorf("copy into a full state: %d %s", code, errs)
	}
	// A wrong password: an error naming the server, not the password.
	code, _, errs = runCLI(t, "", "state", "stats", "--state", srv.Addr(), "--redis-password", "not-it")
	if code != 1 || !strings.Contains(errs, srv.Addr()) || !strings.Contains(errs, "authentication failed") || strings.Contains(errs, "not-it") {
		t.Errorf("wrong password: %d %s", code, errs)
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}
