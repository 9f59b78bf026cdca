// Package version reports what a Gantry binary was built from: the release
// version and VCS revision set by the Makefile's -ldflags -X, falling back to
// what the Go toolchain recorded in the binary's build info, and the
// Kubernetes and Go versions it was built with. Every cmd/ binary prints it
// for --version.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set at link time by the Makefile:
//
//	-X github.com/gantry-dev/gantry/internal/version.version=v0.1.0
//	-X github.com/gantry-dev/gantry/internal/version.revision=<git sha>
var (
	version  string
	revision string
)

// Info is what Get reports.
type Info struct {
	// Version is the release (the repository's VERSION file), the main
	// module's version from build info when it is a tagged module build,
	// or "v0.0.0-dev".
	Version string `json:"version"`
	// Revision is the VCS commit, "unknown" when neither -ldflags nor build
	// info recorded one. Modified is true when the tree had local changes.
	Revision string `json:"revision"`
	Modified bool   `json:"modified,omitempty"`
	// Kubernetes is the k8s.io/kubernetes (or, without it, k8s.io/api)
	// module version compiled in.
	Kubernetes string `json:"kubernetes,omitempty"`
	GoVersion  string `json:"goVersion"`
	Platform   string `json:"platform"`
}

// Get returns the running binary's Info.
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return get(version, revision, bi)
}

func get(ldVersion, ldRevision string, bi *debug.BuildInfo) Info {
	info := Info{Version: ldVersion, Revision: ldRevision, GoVersion: runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi != nil {
		info.GoVersion = bi.GoVersion
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if info.Revision == "" {
					info.Revision = s.Value
				}
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
		info.Kubernetes = depVersion(bi, "k8s.io/kubernetes")
		if info.Kubernetes == "" {
			info.Kubernetes = depVersion(bi, "k8s.io/api")
		}
	}
	if info.Version == "" {
		info.Version = "v0.0.0-dev"
	}
	if info.Revision == "" {
		info.Revision = "unknown"
	}
	return info
}

func depVersion(bi *debug.BuildInfo, path string) string {
	for _, d := range bi.Deps {
		if d.Path == path {
			if d.Replace != nil && d.Replace.Version != "" {
				return d.Replace.Version
			}
			return d.Version
		}
	}
	return ""
}

// String is the one line --version prints, after the program's name.
func (i Info) String() string {
	s := i.Version + " (revision " + i.Revision
	if i.Modified {
		s += ", modified"
	}
	s += ", " + i.GoVersion + ", " + i.Platform
	if i.Kubernetes != "" {
		s += ", kubernetes " + i.Kubernetes
	}
	return s + ")"
}

// Line is "<program> <Info>", what every binary's --version prints.
func Line(program string) string {
	return fmt.Sprintf("%s %s", program, Get())
}
