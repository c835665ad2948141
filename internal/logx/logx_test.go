package logx

import (
	"fmt"
	"slices"
	"testing"
)

func TestCondition(t *testing.T) {
	var got []string
	f := Func(func(l Level, format string, args ...any) {
		got = append(got, l.String()+": "+fmt.Sprintf(format, args...))
	})
	var c Condition
	c.Clear(f, "clear before any failure") // not logged
	for i := range 3 {
		c.Fail(f, "disk full (%d)", i)
	}
	if !c.Failing() {
		t.Error("not failing after Fail")
	}
	c.Clear(f, "space is back")
	c.Clear(f, "space is back again") // not logged
	c.Fail(f, "disk full again")
	want := []string{"error: disk full (0)", "info: space is back", "error: disk full again"}
	if !slices.Equal(got, want) {
		t.Errorf("logged %q, want %q", got, want)
	}
	Func(nil).Errorf("a nil Func discards")
}
