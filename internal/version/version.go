// Package version tells which build of newterms is running: the version
// and commit that `make build` stamps into the binaries, and the Go
// version that built them.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set by the linker (make build: -ldflags -X); empty in a plain `go build`.
var (
	version string
	commit  string
)

// Info is one build's identity.
type Info struct {
	Version string // a release tag, or `git describe` output; "devel" when unknown
	Commit  string // the commit hash; "unknown" when unknown
	Go      string // the Go toolchain, e.g. go1.26.0
}

// Get returns the stamped version and commit, falling back to what the Go
// toolchain recorded (a module version, or VCS settings when the build
// kept them: GOFLAGS=-buildvcs=false drops those, hence the stamps).
func Get() Info {
	return resolve(version, commit, readBuildInfo)
}

func readBuildInfo() (*debug.BuildInfo, bool) { return debug.ReadBuildInfo() }

func resolve(v, c string, read func() (*debug.BuildInfo, bool)) Info {
	info := Info{Version: v, Commit: c, Go: runtime.Version()}
	if bi, ok := read(); ok {
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && info.Commit == "":
				info.Commit = s.Value
			case s.Key == "vcs.modified" && s.Value == "true" && c == "" && info.Commit != "":
				info.Commit += "-dirty"
			}
		}
	}
	if info.Version == "" {
		info.Version = "devel"
	}
	if info.Commit == "" {
		info.Commit = "unknown"
	}
	return info
}

// String is the one-line form both programs print: "newterms VERSION
// (commit COMMIT, GO)".
func (i Info) String() string {
	return fmt.Sprintf("newterms %s (commit %s, %s)", i.Version, i.Commit, i.Go)
}
