package image

import (
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// SBOMDir is where every image keeps its SBOM: SBOMDir/<component>.spdx.json.
const SBOMDir = "/usr/share/sbom"

// Options are what every image of one build shares.
type Options struct {
	Version  string    // the release, also the tag
	Revision string    // VCS commit
	Source   string    // repository URL (org.opencontainers.image.source)
	Created  time.Time // every timestamp in the image (SOURCE_DATE_EPOCH)
	License  []byte    // the repository's LICENSE, shipped at /LICENSE
	// GlibcBase is the root filesystem from hack/agent-base.sh, with its
	// packages.tsv beside it; needed by BaseGlibc components only.
	GlibcBase string
}

// Build assembles the image of component c from its binary.
func Build(c Component, binary string, o Options) (v1.Image, error) {
	if o.Version == "" || o.Revision == "" || o.Source == "" {
		return nil, fmt.Errorf("%s: version, revision and source are required", c.Name)
	}
	bi, err := buildinfo.ReadFile(binary)
	if err != nil {
		return nil, fmt.Errorf("%s: reading Go build info of %s: %w", c.Name, binary, err)
	}
	data, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)

	img := empty.Image
	var debs []DebPackage
	switch c.Base {
	case BaseEmpty:
		if err := checkStatic(binary); err != nil {
			return nil, err
		}
	case BaseGlibc:
		if o.GlibcBase == "" {
			return nil, fmt.Errorf("%s needs the glibc base (run hack/agent-base.sh and pass its root filesystem)", c.Name)
		}
		if err := checkDynamic(binary, o.GlibcBase); err != nil {
			return nil, err
		}
		if debs, err = ReadPackages(filepath.Join(filepath.Dir(o.GlibcBase), "packages.tsv")); err != nil {
			return nil, err
		}
		base, err := dirLayer(o.GlibcBase, o.Created)
		if err != nil {
			return nil, fmt.Errorf("%s: base layer: %w", c.Name, err)
		}
		if img, err = mutate.Append(img, mutate.Addendum{Layer: base, History: v1.History{
			Created: v1.Time{Time: o.Created}, CreatedBy: "hack/agent-base.sh", Comment: "glibc from Debian packages"}}); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%s: unknown base %q", c.Name, c.Base)
	}

	sbom, err := SBOM(sbomInput{Component: c, Version: o.Version, Revision: o.Revision, Source: o.Source,
		Created: o.Created, Build: bi, BinarySHA: hex.EncodeToString(sum[:]), Debs: debs})
	if err != nil {
		return nil, err
	}
	files := []file{
		{path: "/" + c.Name, mode: 0o755, data: data},
		{path: SBOMDir + "/" + c.Name + ".spdx.json", mode: 0o644, data: sbom},
		{path: "/LICENSE", mode: 0o644, data: o.License},
	}
	if c.Base == BaseEmpty {
		files = append(files,
			file{path: "/etc/passwd", mode: 0o644, data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
			file{path: "/etc/group", mode: 0o644, data: []byte("root:x:0:\nnonroot:x:65532:\n")},
			file{path: "/tmp", mode: 0o1777 | dirBit})
	}
	app, err := filesLayer(files, o.Created)
	if err != nil {
		return nil, err
	}
	if img, err = mutate.Append(img, mutate.Addendum{Layer: app, History: v1.History{
		Created: v1.Time{Time: o.Created}, CreatedBy: "build/image", Comment: c.Name + " " + o.Version}}); err != nil {
		return nil, err
	}

	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Created = v1.Time{Time: o.Created}
	cf.Architecture, cf.OS = goArch(bi), "linux"
	cf.Config.Entrypoint = []string{"/" + c.Name}
	cf.Config.User = c.User
	cf.Config.WorkingDir = "/"
	cf.Config.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
	cf.Config.Labels = map[string]string{
		"org.opencontainers.image.title":       c.Name,
		"org.opencontainers.image.description": c.Title,
		"org.opencontainers.image.source":      o.Source,
		"org.opencontainers.image.revision":    o.Revision,
		"org.opencontainers.image.version":     o.Version,
		"org.opencontainers.image.created":     o.Created.UTC().Format(time.RFC3339),
		"org.opencontainers.image.licenses":    "Apache-2.0",
		"dev.gantry.sbom":                      SBOMDir + "/" + c.Name + ".spdx.json",
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, err
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	return mutate.ConfigMediaType(img, types.OCIConfigJSON), nil
}

func goArch(bi *buildinfo.BuildInfo) string {
	for _, s := range bi.Settings {
		if s.Key == "GOARCH" {
			return s.Value
		}
	}
	return "amd64"
}

// layerFrom makes an OCI layer of an uncompressed tar held in memory.
func layerFrom(tarData []byte) (v1.Layer, error) {
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(tarData)), nil
	}, tarball.WithMediaType(types.OCILayer))
}
