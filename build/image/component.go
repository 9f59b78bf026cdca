package image

import (
	"fmt"
	"sort"
)

// BaseKind says what an image's binary runs on.
type BaseKind string

const (
	// BaseEmpty is no base at all: the binary must be statically linked.
	BaseEmpty BaseKind = "empty"
	// BaseGlibc is the minimal glibc root filesystem hack/agent-base.sh
	// assembles from Debian packages.
	BaseGlibc BaseKind = "glibc"
)

// Component is how one cmd/ binary is packaged.
type Component struct {
	Name  string
	Base  BaseKind
	User  string // numeric uid:gid the image runs as
	Title string // org.opencontainers.image.description
}

// nonRoot is distroless' nonroot uid/gid, also used by the manifests.
const nonRoot = "65532:65532"

var components = map[string]Component{
	"gantry-scheduler":  {Base: BaseEmpty, User: nonRoot, Title: "kube-scheduler with Gantry's GantryDeviceShare plugin"},
	"gantry-autoscaler": {Base: BaseEmpty, User: nonRoot, Title: "Gantry's node-group autoscaler"},
	"gantry-webhook":    {Base: BaseEmpty, User: nonRoot, Title: "Gantry's admission webhook"},
	"gantry-sim":        {Base: BaseEmpty, User: nonRoot, Title: "Gantry's trace-driven simulator"},
	// The agent serves sockets in kubelet's root-owned device-plugin
	// directory, so it runs as root (with every capability dropped, see
	// manifests/deviceplugin); go-nvml is cgo and dlopens libnvidia-ml,
	// which the NVIDIA container runtime mounts, so it needs glibc.
	"gantry-device-plugin": {Base: BaseGlibc, User: "0:0", Title: "Gantry's node agent and device plugin"},
}

// Lookup returns the packaging of the named component.
func Lookup(name string) (Component, error) {
	c, ok := components[name]
	if !ok {
		return Component{}, fmt.Errorf("no image is defined for %q (known: %v)", name, Names())
	}
	c.Name = name
	return c, nil
}

// Names lists every component that has an image, sorted.
func Names() []string {
	out := make([]string, 0, len(components))
	for n := range components {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ArchiveName is the file an image archive is written to.
func ArchiveName(component, version string) string {
	return component + "_" + version + ".tar"
}
