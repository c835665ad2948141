package seentest

import (
	"errors"
	"testing"
)

func TestStoreConformance(t *testing.T) {
	if n := Run(t, MemBackend()); n == 0 {
		t.Error("no case ran")
	}
}

// What Mem adds to a Store: failing commits, one open handle at a time,
// and closed handles that refuse every call.
func TestMem(t *testing.T) {
	full := errors.New("disk full")
	cases := []struct {
		name string
		run  func(m *Mem) error
		want error
	}{
		{"a failing commit writes nothing", func(m *Mem) error {
			m.FailApply(full)
			err := m.Apply(writes(set("k", "v")))
			m.FailApply(nil)
			if _, found, _ := m.Get([]byte("k")); found {
				return errors.New("the failed commit wrote")
			}
			return err
		}, full},
		{"commits go on once FailApply(nil)", func(m *Mem) error {
			m.FailApply(full)
			m.FailApply(nil)
			return m.Apply(writes(set("k", "v")))
		}, nil},
		{"reopening an open store", func(m *Mem) error { _, err := m.Reopen(); return err }, errAny},
		{"Get after Close", func(m *Mem) error { m.Close(); _, _, err := m.Get([]byte("k")); return err }, ErrClosed},
		{"Apply after Close", func(m *Mem) error { m.Close(); return m.Apply(writes(set("k", "v"))) }, ErrClosed},
		{"Scan after Close", func(m *Mem) error {
			m.Close()
			return m.Scan(nil, func(k, v []byte) bool { return true })
		}, ErrClosed},
		{"Close twice", func(m *Mem) error { m.Close(); return m.Close() }, ErrClosed},
		{"reopened after Close", func(m *Mem) error {
			m.Apply(writes(set("k", "v")))
			m.Close()
			r, err := m.Reopen()
			if err != nil {
				return err
			}
			if v, _, _ := r.Get([]byte("k")); string(v) != "v" {
				return errors.New("the reopened store lost a commit")
			}
			_, _, err = m.Get([]byte("k")) // the old handle stays closed
			return err
		}, ErrClosed},
		{"what a scan hands fn is overwritten after the call", func(m *Mem) error {
			m.Apply(writes(set("a", "1"), set("b", "2")))
			var kept []byte
			m.Scan(nil, func(k, v []byte) bool {
				if kept == nil {
					kept = k
				}
				return true
			})
			if string(kept) != "b" {
				return errors.New("a kept key still reads " + string(kept))
			}
			return nil
		}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.run(NewMem())
			switch {
			case c.want == errAny && err == nil:
				t.Error("no error")
			case c.want != errAny && !errors.Is(err, c.want):
				t.Errorf("error %v, want %v", err, c.want)
			}
		})
	}
}

// errAny stands for any error.
var errAny = errors.New("any error")
