package images

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/require"

	"github.com/gantry-dev/gantry/build/image"
	"github.com/gantry-dev/gantry/test/harness"
)

func TestMakeImages(t *testing.T) {
	root, err := harness.RepoRoot()
	require.NoError(t, err)
	v, err := os.ReadFile(filepath.Join(root, "VERSION"))
	require.NoError(t, err)
	version := strings.TrimSpace(string(v))
	rev, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	require.NoError(t, err)
	revision := strings.TrimSpace(string(rev))

	out := t.TempDir()
	// The README's command, into a scratch directory (REVISION pinned so
	// a commit landing meanwhile cannot change what the images say).
	make := exec.Command("make", "images", "IMAGE_DIR="+out, "REVISION="+revision)
	make.Dir = root
	b, err := make.CombinedOutput()
	require.NoError(t, err, "make images:\n%s", b)

	built := 0
	for _, component := range image.Names() {
		if _, err := os.Stat(filepath.Join(root, "cmd", component)); err != nil {
			continue // not in this tree yet (gantry-webhook)
		}
		built++
		t.Run(component, func(t *testing.T) {
			archive := filepath.Join(out, image.ArchiveName(component, version))
			tag, err := name.NewTag("ghcr.io/gantry-dev/" + component + ":" + version)
			require.NoError(t, err)
			img, err := tarball.ImageFromPath(archive, &tag) // fails unless the archive carries this tag
			require.NoError(t, err)
			cf, err := img.ConfigFile()
			require.NoError(t, err)
			for k, want := range map[string]string{
				"org.opencontainers.image.source":   "https://github.com/gantry-dev/gantry",
				"org.opencontainers.image.revision": revision,
				"org.opencontainers.image.version":  version,
			} {
				require.Equal(t, want, cf.Config.Labels[k], k)
			}
			c, err := image.Lookup(component)
			require.NoError(t, err)
			require.Equal(t, c.User, cf.Config.User)
			if c.Base == image.BaseEmpty {
				require.NotEqual(t, "0:0", cf.Config.User, "static components run as non-root")
			}

			rootfs := filepath.Join(t.TempDir(), "rootfs")
			unpack(t, img, rootfs)
			sbom, err := os.ReadFile(filepath.Join(rootfs, image.SBOMDir, component+".spdx.json"))
			require.NoError(t, err, "the image ships its SBOM")
			require.Contains(t, string(sbom), `"spdxVersion": "SPDX-2.3"`)
			require.Contains(t, string(sbom), "pkg:golang/k8s.io/client-go@", "the SBOM lists the modules compiled in")

			got := runInRoot(t, rootfs, cf, "--version")
			want := fmt.Sprintf("%s %s (revision %s,", component, version, revision)
			require.True(t, strings.HasPrefix(got, want), "--version printed %q, want it to start with %q", got, want)
		})
	}
	require.GreaterOrEqual(t, built, 4, "scheduler, autoscaler, agent and simulator images")
}

// unpack writes the image's flattened filesystem into dir.
func unpack(t *testing.T, img v1.Image, dir string) {
	t.Helper()
	r := mutate.Extract(img)
	defer r.Close()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		require.NoError(t, err)
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		require.True(t, strings.HasPrefix(p, dir), "entry %q escapes the root", h.Name)
		switch h.Typeflag {
		case tar.TypeDir:
			require.NoError(t, os.MkdirAll(p, os.FileMode(h.Mode).Perm()))
			require.NoError(t, os.Chmod(p, os.FileMode(h.Mode)&os.ModePerm|modeBits(h.Mode)))
		case tar.TypeReg:
			require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode).Perm())
			require.NoError(t, err)
			_, err = io.Copy(f, tr)
			require.NoError(t, err)
			require.NoError(t, f.Close())
		case tar.TypeSymlink:
			require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
			require.NoError(t, os.Symlink(h.Linkname, p))
		case tar.TypeLink:
			require.NoError(t, os.Link(filepath.Join(dir, filepath.FromSlash(h.Linkname)), p))
		default:
			t.Fatalf("unexpected entry %q of type %c", h.Name, h.Typeflag)
		}
	}
}

func modeBits(m int64) os.FileMode {
	if m&0o1000 != 0 {
		return os.ModeSticky
	}
	return 0
}

// runInRoot runs the image's entrypoint with args chrooted into rootfs,
// as the image's user, with the image's environment only. Without root it
// runs in a new user namespace, as uid 0 mapped onto the caller.
func runInRoot(t *testing.T, rootfs string, cf *v1.ConfigFile, args ...string) string {
	t.Helper()
	argv := append(append(append([]string{}, cf.Config.Entrypoint...), cf.Config.Cmd...), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Path = argv[0] // resolved inside the chroot, not on the host's PATH
	cmd.Dir = "/"
	cmd.Env = cf.Config.Env
	attr := &syscall.SysProcAttr{Chroot: rootfs}
	if os.Geteuid() == 0 {
		uid, gid := parseUser(t, cf.Config.User)
		attr.Credential = &syscall.Credential{Uid: uid, Gid: gid}
	} else {
		attr.Cloneflags = syscall.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}
	}
	cmd.SysProcAttr = attr
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "%v in %s:\n%s", argv, rootfs, b)
	return strings.TrimSpace(string(b))
}

func parseUser(t *testing.T, user string) (uint32, uint32) {
	t.Helper()
	u, g, ok := strings.Cut(user, ":")
	require.True(t, ok, "image user %q is not uid:gid", user)
	uid, err := strconv.ParseUint(u, 10, 32)
	require.NoError(t, err)
	gid, err := strconv.ParseUint(g, 10, 32)
	require.NoError(t, err)
	return uint32(uid), uint32(gid)
}
