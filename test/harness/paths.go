package harness

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const (
	// modulePath is the module whose root holds bin/ and manifests/.
	modulePath = "github.com/gantry-dev/gantry"

	// EnvBinDir overrides the directory binaries are run from.
	EnvBinDir = "GANTRY_BIN_DIR"

	// BuildToolsCommand is the command that builds the harness's binaries.
	BuildToolsCommand = "hack/build-test-tools.sh"
)

// RepoRoot returns the root of the gantry module: the nearest directory at or
// above the working directory (or, failing that, this source file) whose
// go.mod declares module github.com/gantry-dev/gantry.
func RepoRoot() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, start := range starts {
		for dir := start; ; dir = filepath.Dir(dir) {
			if isModuleRoot(dir) {
				return dir, nil
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	return "", fmt.Errorf("no go.mod for module %s at or above %v", modulePath, starts)
}

// isModuleRoot reports whether dir/go.mod declares modulePath.
func isModuleRoot(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "module"); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`) == modulePath
		}
	}
	return false
}

// BinDir returns the directory binaries are run from: $GANTRY_BIN_DIR if set,
// else <repo>/bin.
func BinDir() (string, error) {
	if dir := os.Getenv(EnvBinDir); dir != "" {
		return filepath.Abs(dir)
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "bin"), nil
}

// BinaryPath resolves name to an executable file: a name containing a path
// separator is used as is, any other name is looked up in [BinDir]. A missing
// binary fails the test (never skips it) and says how to build it.
func BinaryPath(t testing.TB, name string) string {
	t.Helper()
	path, err := binaryPath(name)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	return path
}

func binaryPath(name string) (string, error) {
	path := name
	if !strings.ContainsRune(name, filepath.Separator) {
		dir, err := BinDir()
		if err != nil {
			return "", err
		}
		path = filepath.Join(dir, name)
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("binary %s not found at %s: run %s from the repository root to build etcd, kube-apiserver and kwok (other binaries: go build -o bin/<name> ./cmd/<name>), or set %s", name, path, BuildToolsCommand, EnvBinDir)
	case err != nil:
		return "", fmt.Errorf("binary %s: %w", name, err)
	case fi.IsDir() || fi.Mode().Perm()&0o111 == 0:
		return "", fmt.Errorf("binary %s at %s is not an executable file: rebuild it with %s", name, path, BuildToolsCommand)
	}
	return path, nil
}

// DefaultStagesDir returns <repo>/manifests/kwok/stages, the KWOK Stage
// configs that make KWOK-managed nodes Ready and run their pods.
func DefaultStagesDir() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "manifests", "kwok", "stages"), nil
}
