package alert

import (
	"testing"
	"time"
)

func TestID(t *testing.T) {
	base := ID("rule:abc", []string{"arn:aws:iam::1:role/x", "16509"}, "ev-1")
	if len(base) != 32 || base != ID("rule:abc", []string{"arn:aws:iam::1:role/x", "16509"}, "ev-1") {
		t.Fatalf("not deterministic: %s", base)
	}
	for _, other := range []string{
		ID("rule:abd", []string{"arn:aws:iam::1:role/x", "16509"}, "ev-1"),
		ID("rule:abc", []string{"arn:aws:iam::1:role/x", "16508"}, "ev-1"),
		ID("rule:abc", []string{"arn:aws:iam::1:role/x16509", ""}, "ev-1"),
		ID("rule:abc", []string{"arn:aws:iam::1:role/x", "16509"}, "ev-2"),
	} {
		if other == base {
			t.Errorf("collision with %s", other)
		}
	}
}

func TestDays(t *testing.T) {
	for w, want := range map[time.Duration]string{24 * time.Hour: "day", 240 * time.Hour: "10 days", 90 * time.Minute: "1h30m0s"} {
		if got := days(w); got != want {
			t.Errorf("%v: %s, want %s", w, got, want)
		}
	}
}
