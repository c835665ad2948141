package forward

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/newterms/newterms/internal/testsupport"
)

// fluentBitPath is the real Fluent Bit, in the shared directory (see
// internal/testsupport).
const fluentBitPath = "fluent-bit/fluent-bit-5.1.1"

// The real in_forward takes batches of many messages in flight: here one
// alert per message, as tags alternate, 1,000 messages of 2.4 KB per
// batch. It acks each as it reads it and stops reading while its acks
// cannot be written, so a sender that read acks only after writing the
// batch would deadlock.
func TestFluentBitInForward(t *testing.T) {
	suite := testsupport.Conformance(t, "forward/in_forward")
	fluentBit := suite.Shared(fluentBitPath)
	suite.Case(t)
	dir := t.TempDir()
	path, out := filepath.Join(dir, "in_forward.sock"), filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(fluentBit, "-f", "1",
		"-i", "forward", "-p", "unix_path="+path,
		"-o", "file", "-p", "match=*", "-p", "path="+out, "-p", "format=plain")
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); pw.Close(); close(exited) }()
	defer func() {
		cmd.Process.Kill()
		<-exited
	}()
	// Start once Fluent Bit says it listens; keep reading its output so
	// that it never blocks on it.
	lines := bufio.NewScanner(pr)
	var log strings.Builder
	for lines.Scan() {
		fmt.Fprintln(&log, lines.Text())
		if strings.Contains(lines.Text(), "listening on unix://"+path) {
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("fluent bit is not listening:\n%s", log.String())
	}

	const n = 3000
	s, _ := openState(t, fill(t, n))
	snd, _ := New(s, Options{Address: "unix://" + path, Tag: "alerts.{rule_id}", AckTimeout: 10 * time.Second})
	if got, err := snd.Drain(context.Background()); got != n || err != nil {
		t.Fatalf("delivered %d of %d: %v", got, n, err)
	}
	// Fluent Bit writes what it holds when it stops.
	cmd.Process.Signal(syscall.SIGTERM)
	<-exited
	if waitErr != nil {
		t.Fatalf("fluent bit: %v", waitErr)
	}
	total := 0
	for _, tag := range []string{"alerts.r0", "alerts.r1", "alerts.r2"} {
		f, err := os.Open(filepath.Join(out, tag))
		if err != nil {
			t.Fatal(err)
		}
		last := -1
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var rec struct{ Event struct{ ID string } }
			err := json.Unmarshal(sc.Bytes(), &rec)
			i, aerr := strconv.Atoi(rec.Event.ID)
			if err != nil || aerr != nil {
				t.Fatalf("%s: %v %v: %s", tag, err, aerr, sc.Text())
			}
			if i <= last {
				t.Errorf("%s: alert %d after %d", tag, i, last)
			}
			last = i
			total++
		}
		f.Close()
	}
	if total != n {
		t.Errorf("fluent bit wrote %d records, want %d", total, n)
	}
}
