// Package version reports which davd is running, from the build information the Go toolchain
// embeds in every binary (runtime/debug.ReadBuildInfo): the module version (a tag such as
// v1.2.0 when built with `go install ...@v1.2.0`, "(devel)" from a checkout), the VCS revision
// and commit time (present when built from a checkout with -buildvcs, the default outside
// GOFLAGS=-buildvcs=false), whether the tree had uncommitted changes, and the Go version.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Info is what the build information says about this binary. Fields that the build did not
// record are empty.
type Info struct {
	Version  string // module version: "v1.2.0", "(devel)"
	Revision string // VCS revision (commit hash)
	Time     string // VCS commit time, RFC 3339
	Modified bool   // the working tree had uncommitted changes
	Go       string // Go version that built the binary
}

// Get returns the running binary's Info.
func Get() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Version: "unknown", Go: runtime.Version()}
	}
	return FromBuildInfo(bi)
}

// FromBuildInfo extracts Info from build information.
func FromBuildInfo(bi *debug.BuildInfo) Info {
	in := Info{Version: bi.Main.Version, Go: bi.GoVersion}
	if in.Version == "" {
		in.Version = "unknown"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Revision = s.Value
		case "vcs.time":
			in.Time = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		}
	}
	return in
}

// String is the one line `davd version` prints, e.g.
// "davd v1.2.0 (revision 0123abcd…, 2026-12-04T10:00:00Z) go1.26.8".
func (in Info) String() string {
	s := "davd " + in.Version
	if in.Revision != "" {
		rev := in.Revision
		if in.Modified {
			rev += "+modified"
		}
		s += " (revision " + rev
		if in.Time != "" {
			s += ", " + in.Time
		}
		s += ")"
	}
	return fmt.Sprintf("%s %s", s, in.Go)
}
