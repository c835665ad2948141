package seen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDamagedStateRefused: an existing state that cannot be opened as it
// was is an init error naming what is wrong, never an empty store that
// silently forgets every tuple.
func TestDamagedStateRefused(t *testing.T) {
	glob := func(dir, pattern string) []string {
		m, _ := filepath.Glob(filepath.Join(dir, pattern))
		if len(m) == 0 {
			t.Fatalf("no %s in %s", pattern, dir)
		}
		return m
	}
	each := func(dir, pattern string, fn func(string)) {
		for _, f := range glob(dir, pattern) {
			fn(f)
		}
	}
	write := func(data string) func(string) {
		return func(f string) {
			if err := os.WriteFile(f, []byte(data), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	truncate := func(f string) {
		st, _ := os.Stat(f)
		if err := os.Truncate(f, st.Size()/2); err != nil {
			t.Fatal(err)
		}
	}
	remove := func(f string) { os.Remove(f) }
	cases := []struct {
		name   string
		damage func(t *testing.T, dir string)
		want   string // in the error
	}{
		{"manifest marker deleted", func(t *testing.T, dir string) { each(dir, "marker.manifest.*", remove) }, "no store manifest"},
		{"all markers deleted", func(t *testing.T, dir string) { each(dir, "marker.*", remove) }, "no store manifest"},
		{"manifest deleted", func(t *testing.T, dir string) { each(dir, "MANIFEST-*", remove) }, "MANIFEST"},
		{"manifest garbage", func(t *testing.T, dir string) { each(dir, "MANIFEST-*", write("garbage garbage garbage")) }, "MANIFEST"},
		{"manifest empty", func(t *testing.T, dir string) { each(dir, "MANIFEST-*", write("")) }, "MANIFEST"},
		{"options garbage", func(t *testing.T, dir string) { each(dir, "OPTIONS-*", write("[Version]\nnot options")) }, "cannot open"},
		{"table truncated", func(t *testing.T, dir string) { each(dir, "*.sst", truncate) }, ".sst"},
		{"table garbage", func(t *testing.T, dir string) { each(dir, "*.sst", write(strings.Repeat("x", 4096))) }, ".sst"},
		{"table deleted", func(t *testing.T, dir string) { each(dir, "*.sst", remove) }, "sstable"},
		{"directory is a file", func(t *testing.T, dir string) {
			os.RemoveAll(dir)
			os.WriteFile(dir, []byte("x"), 0o600)
		}, "not a directory"},
		{"format marker damaged", func(t *testing.T, dir string) { setRaw(t, dir, formatKey, "1x") }, "format marker"},
		{"rule record damaged", func(t *testing.T, dir string) {
			setRaw(t, dir, ruleKeyBytes(ruleHash(tenDays.Key)), "\x01\x02garbage")
		}, "rule record"},
		{"rule record truncated", func(t *testing.T, dir string) {
			setRaw(t, dir, ruleKeyBytes(ruleHash(tenDays.Key)), "\x02")
		}, "rule record"},
		{"held event damaged", func(t *testing.T, dir string) {
			th, _ := tupleHash(nil, []string{"role", "a"})
			setRaw(t, dir, heldKey(makeEntryKey(ruleHash(tenDays.Key), th), 0, 1), "\x09garbage")
		}, "held event"},
		{"held event of no rule", func(t *testing.T, dir string) {
			th, _ := tupleHash(nil, []string{"role", "a"})
			setRaw(t, dir, heldKey(makeEntryKey(ruleHash("gone:1"), th), 0, 1), string((&heldItem{eventID: "e", tuple: []string{"role", "a"}}).encode()))
		}, "has no record"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			s := openT(t, dir, nil)
			for i := range 20 {
				check(t, s, tenDays, []string{"role", string(rune('a' + i))}, t0.Add(time.Duration(i)*time.Hour), false)
			}
			// A table on disk, for the cases that damage one.
			if err := s.store.(*pebbleStore).db.Flush(); err != nil {
				t.Fatal(err)
			}
			s.Close()
			c.damage(t, dir)
			s, err := Open(Options{Dir: dir, CompactInterval: -1})
			if err == nil {
				s.Close()
				t.Fatalf("opened a damaged state")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not name %q", err, c.want)
			}
		})
	}
}

// setRaw writes one raw key into a closed state.
func setRaw(t *testing.T, dir string, key []byte, val string) {
	t.Helper()
	p, err := openPebble(dir, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var w Writes
	w.Set(key, []byte(val))
	if err := p.Apply(&w); err != nil {
		t.Fatal(err)
	}
	p.Close()
}

// A creation cut short (Fluent Bit killed in the plugin's first open)
// leaves files but no data: the next start creates the state, where a
// directory holding data without its manifest is refused.
func TestInterruptedCreation(t *testing.T) {
	cases := []struct {
		name string
		cut  func(t *testing.T, dir string)
	}{
		{"only the lock", func(t *testing.T, dir string) {
			os.MkdirAll(dir, 0o700)
			os.WriteFile(filepath.Join(dir, "LOCK"), nil, 0o600)
		}},
		{"a manifest without its marker", func(t *testing.T, dir string) {
			p, err := openPebble(dir, nil, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			p.Close()
			markers, _ := filepath.Glob(filepath.Join(dir, "marker.*"))
			for _, m := range markers {
				os.Remove(m)
			}
			logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
			for _, l := range logs {
				os.Truncate(l, 0)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			c.cut(t, dir)
			s := openT(t, dir, func(o *Options) { o.NoLearning = true })
			if d := check(t, s, tenDays, []string{"a"}, t0, false); d != Novel {
				t.Errorf("decision %v", d)
			}
			s.Close()
			s = openT(t, dir, nil)
			defer s.Close()
			if st, err := s.Stats(); err != nil || len(st) != 1 || st[0].Tuples != 1 {
				t.Errorf("after reopening: %+v %v", st, err)
			}
		})
	}
}
