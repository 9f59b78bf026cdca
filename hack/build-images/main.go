// Command build-images writes one image archive per component, from the
// binaries `make images` builds, with build/image: no Docker engine, no
// registry pull. Flags and wiring only.
//
//	go run ./hack/build-images --bin out/images/bin --out out/images \
//	    --version v0.1.0 --revision $(git rev-parse HEAD) gantry-scheduler ...
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/gantry-dev/gantry/build/image"
)

func main() {
	var (
		bin       = flag.String("bin", "out/images/bin", "directory holding the components' binaries")
		out       = flag.String("out", "out/images", "directory the archives are written to")
		repo      = flag.String("repo", "ghcr.io/gantry-dev", "image repository prefix")
		version   = flag.String("version", "", "release version, also the tag (never latest)")
		revision  = flag.String("revision", "", "VCS revision")
		source    = flag.String("source", "https://github.com/gantry-dev/gantry", "source repository URL")
		epoch     = flag.String("source-date-epoch", os.Getenv("SOURCE_DATE_EPOCH"), "seconds since 1970 stamped on every file, the config and the SBOM")
		license   = flag.String("license", "LICENSE", "license file shipped at /LICENSE")
		glibcBase = flag.String("glibc-base", "", "root filesystem from hack/agent-base.sh (packages.tsv beside it)")
	)
	flag.Parse()
	if err := run(*bin, *out, *repo, *version, *revision, *source, *epoch, *license, *glibcBase, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "build-images:", err)
		os.Exit(1)
	}
}

func run(bin, out, repo, version, revision, source, epoch, licenseFile, glibcBase string, names []string) error {
	if len(names) == 0 {
		return fmt.Errorf("name the components to build (known: %v)", image.Names())
	}
	if version == "" || version == "latest" {
		return fmt.Errorf("--version must name a release, got %q", version)
	}
	secs, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil {
		return fmt.Errorf("--source-date-epoch %q: %w", epoch, err)
	}
	lic, err := os.ReadFile(licenseFile)
	if err != nil {
		return fmt.Errorf("--license: %w", err)
	}
	o := image.Options{Version: version, Revision: revision, Source: source, Created: time.Unix(secs, 0).UTC(), License: lic, GlibcBase: glibcBase}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, n := range names {
		c, err := image.Lookup(n)
		if err != nil {
			return err
		}
		img, err := image.Build(c, filepath.Join(bin, n), o)
		if err != nil {
			return err
		}
		tag, err := name.NewTag(repo + "/" + n + ":" + version)
		if err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
		path := filepath.Join(out, image.ArchiveName(n, version))
		if err := tarball.WriteToFile(path, tag, img); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		digest, err := img.Digest()
		if err != nil {
			return err
		}
		fmt.Printf("%s\t%s\t%s\n", tag, digest, path)
	}
	return nil
}
