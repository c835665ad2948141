package e2e

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// version is a binary's Fluent Bit version, from its name.
func versionOf(bin string) string {
	return strings.TrimRight(strings.TrimPrefix(filepath.Base(bin), "fluent-bit-"), "+")
}

// keysChecked: the Fluent Bit versions that take a Go plugin's
// config_map (5.1.1 on), where the plugin hands it over.
func keysChecked(v string) bool {
	var major, minor, patch int
	parts := strings.SplitN(v, ".", 3)
	for i, p := range parts {
		n := 0
		for _, c := range p {
			if c < '0' || c > '9' {
				break
			}
			n = n*10 + int(c-'0')
		}
		switch i {
		case 0:
			major = n
		case 1:
			minor = n
		case 2:
			patch = n
		}
	}
	return major > 5 || major == 5 && (minor > 1 || minor == 1 && patch >= 1)
}

// A misspelled key of the newterms output. On Fluent Bit 5.1.1, which
// takes the plugin's config_map, Fluent Bit refuses it at start (exit
// 255), in --dry-run, and at a hot reload (which is halted while the
// running pipeline goes on). Older versions cannot tell: the start goes
// on, the key is ignored, and the plugin says at init that unknown keys
// go unnoticed (newterms config check finds them).
func TestUnknownKey(t *testing.T) {
	eachBinary(t, false, func(t *testing.T, bin string) {
		checked := keysChecked(versionOf(bin))
		o := newOracle(t, 4, 40, 1500)
		segs := o.segments(t, 2)
		p := newPipeline(t, bin, options{hotReload: true, extra: []string{"learnin", "off"}})
		const refused = "newterms: unknown configuration property 'learnin'"

		dry, _ := exec.Command(bin, "--dry-run", "-c", p.path("fluent-bit.conf")).CombinedOutput()
		if checked != strings.Contains(string(dry), refused) {
			t.Errorf("--dry-run: refused %v, want %v:\n%s", !checked, checked, dry)
		}

		fb := p.start()
		procs := []*fluentBit{fb}
		if checked {
			select {
			case <-fb.done:
			case <-time.After(stopLimit):
				t.Fatalf("still running with a misspelled key\n%s", fb.tail())
			}
			var ee *exec.ExitError
			if ok := errors.As(fb.err, &ee); !ok || ee.ExitCode() == 0 || fb.count(refused) == 0 {
				t.Fatalf("exit %v, want a refusal naming the key\n%s", fb.err, fb.tail())
			}
			// A good configuration starts; the misspelling at a reload is
			// refused and the running pipeline goes on.
			good := p.opts
			good.extra = nil
			p.rewrite(good)
			fb = p.start()
			procs = []*fluentBit{fb}
			waitFor(t, "the plugin's init", reloadLimit, procs, func() bool { return fb.count(initMark) >= 1 })
			p.appendEvents(o, segs[0][0], segs[0][1])
			p.waitAlerts(t, "the first segment's alerts", o, segs[0][1], procs)
			bad := good
			bad.extra = []string{"learnin", "off"}
			p.rewrite(bad)
			fb.signal(syscall.SIGHUP)
			waitFor(t, "the reload halted", reloadLimit, procs, func() bool { return fb.count("Reloading is halted") >= 1 })
			if fb.count(refused) < 2 {
				t.Errorf("the halted reload does not name the key\n%s", fb.tail())
			}
		} else {
			waitFor(t, "the plugin's init", reloadLimit, procs, func() bool { return fb.count(initMark) >= 1 })
			if fb.count("unknown keys go unnoticed") == 0 {
				t.Errorf("the plugin does not say unknown keys go unnoticed\n%s", fb.tail())
			}
			p.appendEvents(o, segs[0][0], segs[0][1])
			p.waitAlerts(t, "the first segment's alerts", o, segs[0][1], procs)
		}
		p.appendEvents(o, segs[1][0], segs[1][1])
		p.waitAlerts(t, "every alert", o, len(o.events), procs)
		fb.stop()
		verdict(t, o.ids, p.delivered())
	})
}
