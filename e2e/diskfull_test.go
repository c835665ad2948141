package e2e

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

const (
	// stateFS is the size of the tmpfs under state_dir: room for pebble's
	// preallocated log (8.8 MiB) and the plugin's free-space margin.
	stateFS = "64m"
	// retryLine is Fluent Bit's warning when an output asks for a retry
	// (3.2 to 5.1).
	retryLine = "> output=newterms"
)

// The disk under state_dir fills in the middle of the stream, the plugin
// cannot commit, Fluent Bit retries its chunks (Retry_Limit no_limits)
// until space returns: then every alert is delivered, none extra, and
// Fluent Bit neither crashed nor hung and exits in bounded time. The state
// is a small tmpfs, mounted by the test (root only).
func TestDiskFull(t *testing.T) {
	s := conformance(t)
	runBinaries(s, t, false, func(t *testing.T, bin string) {
		state := filepath.Join(t.TempDir(), "state")
		if err := os.Mkdir(state, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mount("tmpfs", state, "tmpfs", 0, "size="+stateFS+",mode=0700"); err != nil {
			s.Skip(t, "mount tmpfs under state_dir: "+err.Error())
		}
		t.Cleanup(func() { syscall.Unmount(state, syscall.MNT_DETACH) })
		o := newOracle(t, 4, 120, 3000)
		segs := o.segments(t, 3)
		p := newPipeline(t, bin, options{state: state})
		fb := p.start()
		procs := []*fluentBit{fb}

		p.appendEvents(o, segs[0][0], segs[0][1])
		p.waitAlerts(t, "the alerts before the disk fills", o, segs[0][1], procs)
		filler := fill(t, state)
		retries := fb.count(retryLine)
		p.appendEvents(o, segs[1][0], segs[1][1])
		// Two retries of the chunk: the outage outlasts Fluent Bit's
		// first (and default only) retry.
		waitFor(t, "the plugin to refuse commits on the full disk (Fluent Bit retrying its chunk)", alertLimit, procs, func() bool { return fb.count(retryLine) >= retries+2 })
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
		// The next segment waits for the retried chunk's alerts: Fluent Bit
		// would flush a newer chunk before the retry, and the plugin would
		// see the stream out of order (see README).
		p.waitAlerts(t, "the alerts of the retried chunk", o, segs[1][1], procs)
		p.appendEvents(o, segs[2][0], segs[2][1])
		p.waitAlerts(t, "every alert", o, len(o.events), procs)
		t.Logf("exit after SIGTERM took %s", fb.stop())
		verdict(t, o.ids, p.delivered())
	})
}

// fill writes a file into dir until its file system is full, and returns
// its path.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for size := len(buf); size > 0; {
		_, err := f.Write(buf[:size])
		switch {
		case errors.Is(err, syscall.ENOSPC):
			size /= 2
		case err != nil:
			t.Fatal(err)
		}
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	t.Logf("state file system full: %d bytes free", st.Bavail*uint64(st.Bsize))
	return path
}
