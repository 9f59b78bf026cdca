// Package image assembles Gantry's container images without a Docker
// engine and without pulling anything: each image is the component's
// binary (plus an SPDX SBOM generated from the binary's build info) on
// either an empty base, for static binaries, or a root filesystem
// assembled from Debian packages by hack/agent-base.sh, for the node agent
// whose go-nvml binding needs glibc to dlopen libnvidia-ml at run time.
// Before it builds, it checks the binary against its base: a static image
// refuses a dynamically linked binary, and a glibc image needs the
// binary's interpreter and every DT_NEEDED library in the base.
//
// Images are written as image archives (the `docker save` layout, which
// docker load, podman load, ctr import, kind load image-archive and
// crane push all read), tagged with the release version, never latest.
// Tar entries, the config and the SBOM carry one fixed timestamp, so a
// rebuild from the same commit gives the same digest.
package image
