package seentest

import (
	"fmt"
	"slices"
	"sync"

	"github.com/newterms/newterms/internal/seen"
)

// op is one write of a commit: a set, or a deletion when del.
type op struct {
	key, val string
	del      bool
}

func set(k, v string) op { return op{key: k, val: v} }
func del(k string) op    { return op{key: k, del: true} }

func writes(ops ...op) *seen.Writes {
	var w seen.Writes
	for _, o := range ops {
		if o.del {
			w.Delete([]byte(o.key))
		} else {
			w.Set([]byte(o.key), []byte(o.val))
		}
	}
	return &w
}

func apply(e *env, st seen.Store, ops ...op) {
	e.t.Helper()
	if err := st.Apply(writes(ops...)); err != nil {
		e.t.Fatalf("apply: %v", err)
	}
}

// scanKeys is what ScanFrom(prefix, start) visits, at most limit keys (0:
// all), each with its value as key=value.
func scanKeys(e *env, st seen.Store, prefix, start string, limit int) []string {
	e.t.Helper()
	var got []string
	err := st.ScanFrom([]byte(prefix), []byte(start), func(k, v []byte) bool {
		got = append(got, string(k)+"="+string(v))
		return limit == 0 || len(got) < limit
	})
	if err != nil {
		e.t.Fatalf("scan %q from %q: %v", prefix, start, err)
	}
	return got
}

func storeCases() []testCase {
	var cs []testCase

	// Get after commits: the last write of a key wins; within one commit,
	// sets go before deletes (pebbleStore's order).
	gets := []struct {
		name    string
		commits [][]op
		key     string
		want    string
		found   bool
	}{
		{"absent", nil, "k", "", false},
		{"set", [][]op{{set("k", "v")}}, "k", "v", true},
		{"empty value", [][]op{{set("k", "")}}, "k", "", true},
		{"binary key and value", [][]op{{set("k\x00\xff", "\x00\x01\xff")}}, "k\x00\xff", "\x00\x01\xff", true},
		{"overwritten in a later commit", [][]op{{set("k", "v1")}, {set("k", "v2")}}, "k", "v2", true},
		{"overwritten in one commit", [][]op{{set("k", "v1"), set("k", "v2")}}, "k", "v2", true},
		{"deleted in a later commit", [][]op{{set("k", "v")}, {del("k")}}, "k", "", false},
		{"set and deleted in one commit", [][]op{{set("k", "v"), del("k")}}, "k", "", false},
		{"deleted, then set again", [][]op{{set("k", "v1")}, {del("k")}, {set("k", "v2")}}, "k", "v2", true},
		{"deleting an absent key", [][]op{{del("k")}}, "k", "", false},
		{"a neighbour's write", [][]op{{set("k", "v"), set("k1", "x"), set("j", "y")}}, "k", "v", true},
	}
	for _, g := range gets {
		cs = append(cs, testCase{"store/get/" + g.name, func(e *env) {
			st := e.openStore()
			for _, c := range g.commits {
				apply(e, st, c...)
			}
			for _, when := range []string{"committed", "reopened"} {
				v, found, err := st.Get([]byte(g.key))
				if err != nil || found != g.found || string(v) != g.want {
					e.t.Errorf("%s: Get(%q) = %q, %v, %v; want %q, %v", when, g.key, v, found, err, g.want, g.found)
				}
				st = e.restartStore()
			}
		}})
	}

	cs = append(cs, testCase{"store/get returns a copy", func(e *env) {
		st := e.openStore()
		apply(e, st, set("k", "value"))
		v, _, _ := st.Get([]byte("k"))
		copy(v, "XXXXX")
		if v, _, _ := st.Get([]byte("k")); string(v) != "value" {
			e.t.Errorf("after changing what Get returned: %q", v)
		}
	}})

	// Scans: by prefix, from a start key, stopped by fn; keys in byte
	// order, whatever their bytes.
	keys := []string{"a", "a\x00", "a\x01", "ab", "b", "o\x00\x00\x01", "o\x00\x00\x02", "o\x00\x01\x00", "o\xff", "t", "\xff", "\xff\xff", "\xff\xff\x00"}
	scans := []struct {
		name, prefix, start string
		limit               int
		want                []string
	}{
		{"everything", "", "", 0, keys},
		{"a prefix", "a", "a", 0, []string{"a", "a\x00", "a\x01", "ab"}},
		{"a prefix that is no key", "o\x00\x00", "o\x00\x00", 0, []string{"o\x00\x00\x01", "o\x00\x00\x02"}},
		{"no key has the prefix", "c", "c", 0, nil},
		{"stopped by fn", "a", "a", 2, []string{"a", "a\x00"}},
		{"from a key", "o", "o\x00\x00\x02", 0, []string{"o\x00\x00\x02", "o\x00\x01\x00", "o\xff"}},
		{"from between keys", "o", "o\x00\x00\x01\x00", 0, []string{"o\x00\x00\x02", "o\x00\x01\x00", "o\xff"}},
		{"from before the prefix", "o", "a", 0, []string{"o\x00\x00\x01", "o\x00\x00\x02", "o\x00\x01\x00", "o\xff"}},
		{"from past the prefix", "o", "p", 0, nil},
		{"from past everything", "", "\xff\xff\xff", 0, nil},
		{"a prefix of 0xff bytes", "\xff\xff", "\xff\xff", 0, []string{"\xff\xff", "\xff\xff\x00"}},
		{"from a start of 0xff bytes", "\xff", "\xff\xff\x00", 0, []string{"\xff\xff\x00"}},
	}
	for _, sc := range scans {
		cs = append(cs, testCase{"store/scan/" + sc.name, func(e *env) {
			st := e.openStore()
			var ops []op
			for i, k := range keys {
				ops = append(ops, set(k, fmt.Sprint(i)))
			}
			apply(e, st, ops...)
			apply(e, st, set("x", "gone"), del("x")) // deleted keys are not visited
			var want []string
			for _, k := range sc.want {
				want = append(want, k+"="+fmt.Sprint(slices.Index(keys, k)))
			}
			if got := scanKeys(e, st, sc.prefix, sc.start, sc.limit); !slices.Equal(got, want) {
				e.t.Errorf("ScanFrom(%q, %q) visits %q, want %q", sc.prefix, sc.start, got, want)
			}
			if sc.start == sc.prefix {
				var got []string
				err := st.Scan([]byte(sc.prefix), func(k, v []byte) bool {
					got = append(got, string(k)+"="+string(v))
					return sc.limit == 0 || len(got) < sc.limit
				})
				if err != nil || !slices.Equal(got, want) {
					e.t.Errorf("Scan(%q) visits %q, %v; want %q", sc.prefix, got, err, want)
				}
			}
		}})
	}

	// A commit is atomic to readers: each commit rewrites every "a/" key
	// and moves the one "b/" key; readers running meanwhile see one
	// commit's values throughout, never parts of two.
	cs = append(cs, testCase{"store/commits are atomic to readers", func(e *env) {
		const commits, readers, width = 100, 2, 32
		st := e.openStore()
		commit := func(i int) {
			ops := []op{set(fmt.Sprintf("b/%03d", i), fmt.Sprint(i))}
			if i > 0 {
				ops = append(ops, del(fmt.Sprintf("b/%03d", i-1)))
			}
			for j := range width {
				ops = append(ops, set(fmt.Sprintf("a/%d", j), fmt.Sprint(i)))
			}
			if err := st.Apply(writes(ops...)); err != nil {
				e.t.Errorf("commit %d: %v", i, err)
			}
		}
		commit(0)
		done := make(chan struct{})
		var wg sync.WaitGroup
		for range readers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					var vals []string
					err := st.Scan(nil, func(k, v []byte) bool { vals = append(vals, string(v)); return true })
					if err != nil {
						e.t.Error(err)
						return
					}
					if len(vals) != width+1 || slices.ContainsFunc(vals, func(v string) bool { return v != vals[0] }) {
						e.t.Errorf("a reader saw %q: parts of several commits", vals)
						return
					}
					select {
					case <-done:
						return
					default:
					}
				}
			}()
		}
		for i := 1; i <= commits; i++ {
			commit(i)
		}
		close(done)
		wg.Wait()
	}})

	cs = append(cs, testCase{"store/what was committed survives a restart", func(e *env) {
		st := e.openStore()
		apply(e, st, set("a", "1"), set("b", "2"), set("c", "3"))
		apply(e, st, del("b"), set("d", "4"))
		want := map[string]string{"a": "1", "c": "3", "d": "4"}
		st = e.restartStore()
		if got := contents(e.t, st); fmt.Sprint(got) != fmt.Sprint(want) {
			e.t.Errorf("after a restart the store holds %q, want %q", got, want)
		}
		apply(e, st, set("e", "5"))
		want["e"] = "5"
		if got := contents(e.t, e.restartStore()); fmt.Sprint(got) != fmt.Sprint(want) {
			e.t.Errorf("after a second restart the store holds %q, want %q", got, want)
		}
	}})
	return cs
}
