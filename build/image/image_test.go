package image

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/stretchr/testify/require"
)

// buildHello compiles a tiny program, statically (cgo off) or against
// glibc (cgo on), into dir.
func buildHello(t *testing.T, dir string, cgo bool) string {
	t.Helper()
	src := filepath.Join(dir, "src")
	require.NoError(t, os.MkdirAll(src, 0o755))
	prog := "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n"
	if cgo {
		prog = "package main\n\n// #include <stdlib.h>\nimport \"C\"\n\nfunc main() { C.free(nil) }\n"
	}
	require.NoError(t, os.WriteFile(filepath.Join(src, "main.go"), []byte(prog), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(src, "go.mod"), []byte("module example.com/hello\n\ngo 1.22\n"), 0o644))
	out := filepath.Join(dir, "hello")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false", "GOWORK=off")
	if cgo {
		cmd.Env = append(cmd.Env, "CGO_ENABLED=1")
	} else {
		cmd.Env = append(cmd.Env, "CGO_ENABLED=0")
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		if cgo {
			t.Skipf("no cgo toolchain here: %v\n%s", err, b)
		}
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

func opts() Options {
	return Options{Version: "v9.8.7", Revision: "0123abcd", Source: "https://github.com/gantry-dev/gantry",
		Created: time.Unix(1700000000, 0).UTC(), License: []byte("Apache License 2.0\n")}
}

// layerFiles flattens img and returns each regular file's content and mode.
func layerFiles(t *testing.T, r io.ReadCloser) map[string]*tar.Header {
	t.Helper()
	defer r.Close()
	out := map[string]*tar.Header{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		out["/"+strings.TrimSuffix(h.Name, "/")] = h
	}
}

func TestBuildStatic(t *testing.T) {
	dir := t.TempDir()
	hello := buildHello(t, dir, false)
	c := mustLookup(t, "gantry-sim")
	img, err := Build(c, hello, opts())
	require.NoError(t, err)

	cf, err := img.ConfigFile()
	require.NoError(t, err)
	if diff := cmp.Diff([]string{"/gantry-sim"}, cf.Config.Entrypoint); diff != "" {
		t.Errorf("entrypoint (-want,+got):\n%s", diff)
	}
	require.Equal(t, "65532:65532", cf.Config.User, "static images run as non-root")
	for k, want := range map[string]string{
		"org.opencontainers.image.source":   "https://github.com/gantry-dev/gantry",
		"org.opencontainers.image.revision": "0123abcd",
		"org.opencontainers.image.version":  "v9.8.7",
	} {
		require.Equal(t, want, cf.Config.Labels[k], k)
	}
	layers, err := img.Layers()
	require.NoError(t, err)
	require.Len(t, layers, 1, "an empty base adds no layer")

	files := layerFiles(t, mutate.Extract(img))
	for _, p := range []string{"/gantry-sim", "/LICENSE", "/etc/passwd", "/tmp", SBOMDir + "/gantry-sim.spdx.json"} {
		require.Contains(t, files, p)
	}
	require.Equal(t, int64(0o755), files["/gantry-sim"].Mode)
	require.True(t, files["/gantry-sim"].ModTime.Equal(opts().Created), "timestamps are SOURCE_DATE_EPOCH")

	// Same inputs, same digest.
	again, err := Build(c, hello, opts())
	require.NoError(t, err)
	d1, err := img.Digest()
	require.NoError(t, err)
	d2, err := again.Digest()
	require.NoError(t, err)
	require.Equal(t, d1, d2, "a rebuild from the same inputs is byte-identical")
}

func TestBuildRefusesMismatchedBase(t *testing.T) {
	dir := t.TempDir()
	dynamic := buildHello(t, dir, true)
	sim, err := Lookup("gantry-sim")
	require.NoError(t, err)
	_, err = Build(sim, dynamic, opts())
	require.ErrorIs(t, err, ErrBaseMismatch)
	require.ErrorContains(t, err, "CGO_ENABLED=0")

	agent, err := Lookup("gantry-device-plugin")
	require.NoError(t, err)
	o := opts()
	_, err = Build(agent, dynamic, o)
	require.ErrorContains(t, err, "needs the glibc base")

	o.GlibcBase = filepath.Join(dir, "rootfs")
	require.NoError(t, os.MkdirAll(filepath.Join(o.GlibcBase, "lib64"), 0o755))
	_, err = Build(agent, dynamic, o)
	require.ErrorIs(t, err, ErrBaseMismatch)
	require.ErrorContains(t, err, "needs the loader")
}

func TestBuildGlibc(t *testing.T) {
	dir := t.TempDir()
	dynamic := buildHello(t, dir, true)
	l, err := readLinkage(dynamic)
	require.NoError(t, err)
	// A base holding the host's loader and libraries (through a symlinked
	// directory, as Debian's /lib64 links into /lib/...).
	rootfs := filepath.Join(dir, "base", "rootfs")
	real := filepath.Join(rootfs, "lib", "real")
	require.NoError(t, os.MkdirAll(real, 0o755))
	copyFile := func(from, to string) {
		b, err := os.ReadFile(from)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(to, b, 0o755))
	}
	copyFile(l.interp, filepath.Join(real, filepath.Base(l.interp)))
	require.NoError(t, os.Symlink("lib/real", filepath.Join(rootfs, strings.Trim(filepath.Dir(l.interp), "/"))))
	for _, lib := range l.needed {
		copyFile(hostLib(t, lib), filepath.Join(rootfs, "lib", lib))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "base", "packages.tsv"), []byte("# name\tversion\tarchitecture\tdistribution\nlibc6\t2.36-9\tamd64\tdebian\n"), 0o644))

	agent, err := Lookup("gantry-device-plugin")
	require.NoError(t, err)
	o := opts()
	o.GlibcBase = rootfs
	img, err := Build(agent, dynamic, o)
	require.NoError(t, err)
	layers, err := img.Layers()
	require.NoError(t, err)
	require.Len(t, layers, 2, "base layer and application layer")
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	require.Equal(t, "0:0", cf.Config.User)

	files := layerFiles(t, mutate.Extract(img))
	require.Equal(t, byte(tar.TypeSymlink), files[filepath.Dir(l.interp)].Typeflag)
	sbom := readSBOM(t, img, "gantry-device-plugin")
	require.Contains(t, sbom, "pkg:deb/debian/libc6@2.36-9?arch=amd64")
}

func hostLib(t *testing.T, lib string) string {
	t.Helper()
	for _, d := range libDirs {
		if p := filepath.Join(d, lib); existsIn("/", p) {
			return p
		}
	}
	t.Fatalf("host has no %s", lib)
	return ""
}

// readSBOM returns the purls of the image's SBOM, after checking it is an
// SPDX 2.3 document describing the component.
func readSBOM(t *testing.T, img v1.Image, component string) []string {
	t.Helper()
	r := mutate.Extract(img)
	defer r.Close()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		require.NoError(t, err, "no SBOM in the image")
		if "/"+h.Name != SBOMDir+"/"+component+".spdx.json" {
			continue
		}
		var doc spdxDocument
		require.NoError(t, json.NewDecoder(tr).Decode(&doc))
		require.Equal(t, "SPDX-2.3", doc.SPDXVersion)
		root := spdxID("Package", component)
		require.Contains(t, doc.Relationships, spdxRelationship{Element: "SPDXRef-DOCUMENT", Type: "DESCRIBES", Related: root})
		var purls []string
		for _, p := range doc.Packages {
			for _, r := range p.ExternalRefs {
				purls = append(purls, r.Locator)
			}
		}
		return purls
	}
}

func TestSBOMListsBuildInfo(t *testing.T) {
	dir := t.TempDir()
	img, err := Build(mustLookup(t, "gantry-sim"), buildHello(t, dir, false), opts())
	require.NoError(t, err)
	purls := readSBOM(t, img, "gantry-sim")
	require.Contains(t, purls, "pkg:golang/example.com/hello@v9.8.7")
	var std bool
	for _, p := range purls {
		std = std || strings.HasPrefix(p, "pkg:golang/stdlib@go1.")
	}
	require.True(t, std, "the Go toolchain is listed: %v", purls)
}

func TestReadPackagesRejectsMalformedLines(t *testing.T) {
	f := filepath.Join(t.TempDir(), "packages.tsv")
	require.NoError(t, os.WriteFile(f, []byte("libc6 2.36\n"), 0o644))
	_, err := ReadPackages(f)
	require.ErrorContains(t, err, "packages.tsv:1: want name, version, architecture and distribution")
}

func TestLookup(t *testing.T) {
	_, err := Lookup("kubectl-gantry")
	require.ErrorContains(t, err, `no image is defined for "kubectl-gantry"`)
	for _, n := range Names() {
		c := mustLookup(t, n)
		require.NotEmpty(t, c.User, n)
		require.NotEqual(t, "latest", ArchiveName(n, "v1"), n)
	}
}

func mustLookup(t *testing.T, name string) Component {
	t.Helper()
	c, err := Lookup(name)
	require.NoError(t, err)
	return c
}
