package main

import (
	"debug/elf"
	"slices"
	"testing"
)

// The .so must export what Fluent Bit's Go proxy looks up (src/proxy/go/go.c)
// and nothing that changes which callbacks it picks.
func TestExports(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the shared library TestMain builds")
	}
	f, err := elf.Open(soPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	var exported []string
	for _, s := range syms {
		if s.Section != elf.SHN_UNDEF && len(s.Name) > 9 && s.Name[:9] == "FLBPlugin" {
			exported = append(exported, s.Name)
		}
	}
	slices.Sort(exported)
	want := []string{"FLBPluginExitCtx", "FLBPluginFlushCtx", "FLBPluginInit", "FLBPluginRegister"}
	if !slices.Equal(exported, want) {
		t.Errorf("exports %v, want %v", exported, want)
	}
}
