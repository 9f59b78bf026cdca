package version

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestGet(t *testing.T) {
	k8s := &debug.Module{Path: "k8s.io/kubernetes", Version: "v1.37.2"}
	tests := []struct {
		name       string
		ldVersion  string
		ldRevision string
		bi         *debug.BuildInfo
		want       Info
	}{
		{
			name: "no build info, no ldflags",
			want: Info{Version: "v0.0.0-dev", Revision: "unknown"},
		},
		{
			name:      "ldflags win over build info",
			ldVersion: "v0.1.0", ldRevision: "abc123",
			bi: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v9.9.9"},
				Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "def456"}}, Deps: []*debug.Module{k8s}},
			want: Info{Version: "v0.1.0", Revision: "abc123", GoVersion: "go1.26.8", Kubernetes: "v1.37.2"},
		},
		{
			name: "build info of a module build with VCS stamping",
			bi: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.2.0"},
				Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "def456"}, {Key: "vcs.modified", Value: "true"}}},
			want: Info{Version: "v0.2.0", Revision: "def456", Modified: true, GoVersion: "go1.26.8"},
		},
		{
			name: "a devel main module is not a version; replaced k8s.io/api reports the replacement",
			bi: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
				Deps: []*debug.Module{{Path: "k8s.io/api", Version: "v0.0.0", Replace: &debug.Module{Version: "v0.37.2"}}}},
			want: Info{Version: "v0.0.0-dev", Revision: "unknown", GoVersion: "go1.26.8", Kubernetes: "v0.37.2"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := get(tc.ldVersion, tc.ldRevision, tc.bi)
			if diff := cmp.Diff(tc.want, got, cmpopts.IgnoreFields(Info{}, "Platform"), ignoreGoVersionWithout(tc.bi)); diff != "" {
				t.Errorf("get (-want,+got):\n%s", diff)
			}
			if got.Platform == "" {
				t.Error("Platform is empty")
			}
		})
	}
}

// ignoreGoVersionWithout ignores GoVersion when there is no build info (it
// is then the running toolchain's).
func ignoreGoVersionWithout(bi *debug.BuildInfo) cmp.Option {
	if bi == nil {
		return cmpopts.IgnoreFields(Info{}, "GoVersion")
	}
	return cmp.Options{}
}

func TestLine(t *testing.T) {
	line := Line("gantry-sim")
	if !strings.HasPrefix(line, "gantry-sim v") || !strings.Contains(line, "(revision ") {
		t.Errorf("Line = %q, want \"gantry-sim v... (revision ...\"", line)
	}
	got := Info{Version: "v0.1.0", Revision: "abc", Modified: true, GoVersion: "go1.26.8", Platform: "linux/amd64", Kubernetes: "v1.37.2"}.String()
	if want := "v0.1.0 (revision abc, modified, go1.26.8, linux/amd64, kubernetes v1.37.2)"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
}
