package seentest

import "testing"

func TestStoreConformance(t *testing.T) {
	if n := Run(t, MemBackend()); n == 0 {
		t.Error("no case ran")
	}
}
