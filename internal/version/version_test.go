package version

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestResolve(t *testing.T) {
	none := func() (*debug.BuildInfo, bool) { return nil, false }
	vcs := func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "true"}}}, true
	}
	module := func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, true
	}
	for _, tc := range []struct {
		name, v, c string
		read       func() (*debug.BuildInfo, bool)
		want       Info
	}{
		{"stamped", "v0.3.0-4-gabc", "abc", vcs, Info{"v0.3.0-4-gabc", "abc", runtime.Version()}},
		{"nothing known", "", "", none, Info{"devel", "unknown", runtime.Version()}},
		{"vcs settings", "", "", vcs, Info{"devel", "abc123-dirty", runtime.Version()}},
		{"module version", "", "", module, Info{"v1.2.3", "unknown", runtime.Version()}},
		{"stamped commit wins", "", "def", vcs, Info{"devel", "def", runtime.Version()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := resolve(tc.v, tc.c, tc.read); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestString(t *testing.T) {
	got := Info{"v1", "abc", "go1.26.0"}.String()
	if want := "newterms v1 (commit abc, go1.26.0)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
