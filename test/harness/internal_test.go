package harness

import (
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestBinaryPathMissingSaysHowToBuild(t *testing.T) {
	t.Setenv(EnvBinDir, t.TempDir())
	_, err := binaryPath("kube-apiserver")
	if err == nil || !strings.Contains(err.Error(), BuildToolsCommand) {
		t.Fatalf("binaryPath of a missing binary = %v, want an error naming %s", err, BuildToolsCommand)
	}
}

func TestBinaryPathRejectsNonExecutable(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvBinDir, dir)
	if err := os.WriteFile(filepath.Join(dir, "etcd"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := binaryPath("etcd"); err == nil {
		t.Fatal("binaryPath accepted a file without the executable bit")
	}
}

func TestRepoRootHasStages(t *testing.T) {
	dir, err := DefaultStagesDir()
	if err != nil {
		t.Fatal(err)
	}
	files, err := stageFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"node-initialize.yaml", "node-heartbeat.yaml", "pod-ready.yaml", "pod-delete.yaml"} {
		if !slices.Contains(files, filepath.Join(dir, want)) {
			t.Errorf("stage %s missing from %v", want, files)
		}
	}
}

func TestPKIChains(t *testing.T) {
	p, err := newPKI([]net.IP{net.ParseIP("127.0.0.1")}, []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(p.CA.cert)
	if _, err := p.Serving.cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "127.0.0.1"}); err != nil {
		t.Errorf("serving certificate: %v", err)
	}
	if _, err := p.Admin.cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("admin certificate: %v", err)
	}
	if got := p.Admin.cert.Subject.Organization; !slices.Equal(got, []string{"system:masters"}) {
		t.Errorf("admin groups = %v, want [system:masters]", got)
	}
}

func TestAPIServerArgsSortedAndDroppable(t *testing.T) {
	got := apiServerArgs(map[string]string{"b": "2", "a": "1", "gone": ""})
	want := []string{"--a=1", "--b=2"}
	if !slices.Equal(got, want) {
		t.Errorf("apiServerArgs = %v, want %v", got, want)
	}
}
