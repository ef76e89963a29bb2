package version

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	for _, tc := range []struct {
		name string
		bi   debug.BuildInfo
		want string
	}{
		{"release tag", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"}},
			"davd v1.2.0 go1.26.8"},
		{"checkout with vcs stamping", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "efd6140abc"}, {Key: "vcs.time", Value: "2026-12-04T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}},
			"davd (devel) (revision efd6140abc+modified, 2026-12-04T10:00:00Z) go1.26.8"},
		{"no module version", debug.BuildInfo{GoVersion: "go1.26.8"}, "davd unknown go1.26.8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := FromBuildInfo(&tc.bi).String(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestGetReportsTheRunningGo(t *testing.T) {
	in := Get()
	if in.Go != runtime.Version() || !strings.HasPrefix(in.String(), "davd ") {
		t.Errorf("Get() = %+v", in)
	}
}
