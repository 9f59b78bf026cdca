package image

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"runtime/debug"
	"strings"
	"time"
)

// DebPackage is one Debian package of a base root filesystem, as listed in
// the base's packages.tsv (name, version, architecture, distribution).
type DebPackage struct {
	Name, Version, Arch, Distro string
}

// ReadPackages reads the packages.tsv hack/agent-base.sh writes.
func ReadPackages(file string) ([]DebPackage, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("reading the base's package list: %w", err)
	}
	defer f.Close()
	var out []DebPackage
	s := bufio.NewScanner(f)
	for n := 1; s.Scan(); n++ {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, "\t")
		if len(fields) != 4 || fields[0] == "" || fields[1] == "" {
			return nil, fmt.Errorf("%s:%d: want name, version, architecture and distribution separated by tabs, got %q", file, n, line)
		}
		out = append(out, DebPackage{Name: fields[0], Version: fields[1], Arch: fields[2], Distro: fields[3]})
	}
	return out, s.Err()
}

// SPDX 2.3 JSON, the subset an image SBOM needs.
type spdxDocument struct {
	SPDXVersion       string             `json:"spdxVersion"`
	DataLicense       string             `json:"dataLicense"`
	SPDXID            string             `json:"SPDXID"`
	Name              string             `json:"name"`
	DocumentNamespace string             `json:"documentNamespace"`
	CreationInfo      spdxCreationInfo   `json:"creationInfo"`
	Packages          []spdxPackage      `json:"packages"`
	Relationships     []spdxRelationship `json:"relationships"`
}

type spdxCreationInfo struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

type spdxPackage struct {
	SPDXID           string        `json:"SPDXID"`
	Name             string        `json:"name"`
	VersionInfo      string        `json:"versionInfo,omitempty"`
	Supplier         string        `json:"supplier,omitempty"`
	DownloadLocation string        `json:"downloadLocation"`
	FilesAnalyzed    bool          `json:"filesAnalyzed"`
	LicenseConcluded string        `json:"licenseConcluded"`
	LicenseDeclared  string        `json:"licenseDeclared"`
	CopyrightText    string        `json:"copyrightText"`
	PrimaryPurpose   string        `json:"primaryPackagePurpose,omitempty"`
	ExternalRefs     []spdxExtRef  `json:"externalRefs,omitempty"`
	Checksums        []spdxSumJSON `json:"checksums,omitempty"`
}

type spdxExtRef struct {
	Category string `json:"referenceCategory"`
	Type     string `json:"referenceType"`
	Locator  string `json:"referenceLocator"`
}

type spdxSumJSON struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"checksumValue"`
}

type spdxRelationship struct {
	Element string `json:"spdxElementId"`
	Type    string `json:"relationshipType"`
	Related string `json:"relatedSpdxElement"`
}

var spdxIDUnsafe = regexp.MustCompile(`[^A-Za-z0-9.-]+`)

func spdxID(kind, name string) string {
	return "SPDXRef-" + kind + "-" + spdxIDUnsafe.ReplaceAllString(name, "-")
}

// sbomInput is what an image's SBOM describes.
type sbomInput struct {
	Component Component
	Version   string
	Revision  string
	Source    string
	Created   time.Time
	Build     *debug.BuildInfo
	BinarySHA string // sha256 of the binary, hex
	Debs      []DebPackage
}

// SBOM renders the SPDX 2.3 JSON document of one image: the component's
// binary (with its checksum), the Go toolchain and every module compiled
// in (from the binary's build info, replacements resolved), and the Debian
// packages of its base.
func SBOM(in sbomInput) ([]byte, error) {
	if in.Build == nil {
		return nil, fmt.Errorf("%s: no Go build info to describe", in.Component.Name)
	}
	root := spdxID("Package", in.Component.Name)
	doc := spdxDocument{
		SPDXVersion: "SPDX-2.3", DataLicense: "CC0-1.0", SPDXID: "SPDXRef-DOCUMENT",
		Name:              in.Component.Name + "-" + in.Version,
		DocumentNamespace: fmt.Sprintf("%s/spdx/%s/%s/%s", strings.TrimSuffix(in.Source, "/"), in.Component.Name, in.Version, in.Revision),
		CreationInfo: spdxCreationInfo{Created: in.Created.UTC().Format(time.RFC3339),
			Creators: []string{"Organization: Gantry", "Tool: gantry-build-image-" + in.Version}},
	}
	doc.Packages = append(doc.Packages, spdxPackage{
		SPDXID: root, Name: in.Component.Name, VersionInfo: in.Version, Supplier: "Organization: Gantry",
		DownloadLocation: strings.TrimSuffix(in.Source, "/") + "@" + in.Revision, LicenseConcluded: "Apache-2.0", LicenseDeclared: "Apache-2.0",
		CopyrightText: "NOASSERTION", PrimaryPurpose: "APPLICATION",
		ExternalRefs: []spdxExtRef{purl("golang/" + in.Build.Main.Path + "@" + in.Version)},
		Checksums:    []spdxSumJSON{{Algorithm: "SHA256", Value: in.BinarySHA}},
	})
	rel := func(id string) {
		doc.Relationships = append(doc.Relationships, spdxRelationship{Element: root, Type: "DEPENDS_ON", Related: id})
	}
	doc.Relationships = append(doc.Relationships, spdxRelationship{Element: "SPDXRef-DOCUMENT", Type: "DESCRIBES", Related: root})
	goID := spdxID("Package", "go-stdlib")
	doc.Packages = append(doc.Packages, goModule(goID, "stdlib", in.Build.GoVersion, "BSD-3-Clause"))
	rel(goID)
	for _, d := range in.Build.Deps {
		m := d
		if d.Replace != nil {
			m = d.Replace
			if m.Version == "" { // a directory replacement: the required version is the best we know
				m = &debug.Module{Path: d.Path, Version: d.Version}
			}
		}
		id := spdxID("Package", "go-"+m.Path)
		doc.Packages = append(doc.Packages, goModule(id, m.Path, m.Version, "NOASSERTION"))
		rel(id)
	}
	for _, p := range in.Debs {
		id := spdxID("Package", "deb-"+p.Name)
		locator := fmt.Sprintf("pkg:deb/%s/%s@%s?arch=%s", p.Distro, p.Name, p.Version, p.Arch)
		doc.Packages = append(doc.Packages, spdxPackage{SPDXID: id, Name: p.Name, VersionInfo: p.Version,
			DownloadLocation: "NOASSERTION", LicenseConcluded: "NOASSERTION", LicenseDeclared: "NOASSERTION",
			CopyrightText: "NOASSERTION", PrimaryPurpose: "OPERATING-SYSTEM", ExternalRefs: []spdxExtRef{purl(locator[len("pkg:"):])}})
		rel(id)
	}
	return json.MarshalIndent(doc, "", "  ")
}

func goModule(id, path, version, license string) spdxPackage {
	p := spdxPackage{SPDXID: id, Name: path, VersionInfo: version, DownloadLocation: "NOASSERTION",
		LicenseConcluded: "NOASSERTION", LicenseDeclared: license, CopyrightText: "NOASSERTION", PrimaryPurpose: "LIBRARY"}
	if path == "stdlib" {
		p.ExternalRefs = []spdxExtRef{purl("golang/stdlib@" + version)}
	} else if version != "" {
		p.ExternalRefs = []spdxExtRef{purl("golang/" + path + "@" + version)}
	}
	return p
}

func purl(s string) spdxExtRef {
	return spdxExtRef{Category: "PACKAGE-MANAGER", Type: "purl", Locator: "pkg:" + s}
}
