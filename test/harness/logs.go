package harness

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"testing"
)

const (
	// EnvLogDir, when set, is a directory under which every test's process
	// logs are written and kept, pass or fail (for CI artifacts).
	EnvLogDir = "GANTRY_LOG_DIR"

	// logTailBytes is how much of each log a failing test prints.
	logTailBytes = 8 << 10
)

// logDirs maps each test to its log directory, so that every process a test
// starts (control plane, KWOK, the scheduler) logs side by side.
var logDirs sync.Map // testing.TB -> string

// LogDir returns the test's log directory, creating it on first use. On the
// first call it registers a cleanup that, after every process started later
// has stopped, prints the tail of each log and keeps the directory if the test
// failed, and removes the directory if it passed (unless GANTRY_LOG_DIR is set).
func LogDir(t testing.TB) string {
	t.Helper()
	if dir, ok := logDirs.Load(t); ok {
		return dir.(string)
	}
	dir, keep, err := newLogDir(t.Name())
	if err != nil {
		t.Fatalf("harness: create log directory: %v", err)
	}
	logDirs.Store(t, dir)
	t.Cleanup(func() {
		logDirs.Delete(t)
		if entries, err := os.ReadDir(dir); err == nil && len(entries) == 0 {
			_ = os.Remove(dir) // nothing ran: nothing to show or keep
			return
		}
		if t.Failed() {
			dumpLogs(t, dir)
			return
		}
		if !keep {
			_ = os.RemoveAll(dir)
		}
	})
	return dir
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

func newLogDir(testName string) (dir string, keep bool, err error) {
	name := unsafeChars.ReplaceAllString(testName, "_")
	if len(name) > 80 {
		name = name[:80]
	}
	parent := os.Getenv(EnvLogDir)
	if parent != "" {
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return "", false, err
		}
	}
	dir, err = os.MkdirTemp(parent, "gantry-harness-"+name+"-")
	return dir, parent != "", err
}

// dumpLogs prints the tail of every file in dir to the test log.
func dumpLogs(t testing.TB, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Logf("harness: read log directory %s: %v", dir, err)
		return
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	t.Logf("harness: test failed; process logs kept in %s", dir)
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		tail, truncated, err := readTail(path, logTailBytes)
		if err != nil {
			t.Logf("harness: read %s: %v", path, err)
			continue
		}
		note := ""
		if truncated {
			note = fmt.Sprintf(" (last %d bytes)", logTailBytes)
		}
		t.Logf("===== %s%s =====\n%s", path, note, tail)
	}
}

// readTail returns at most n bytes from the end of the file at path, starting
// at a line boundary when it had to cut.
func readTail(path string, n int64) (string, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", false, err
	}
	off := max(fi.Size()-n, 0)
	buf := make([]byte, fi.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil {
		return "", false, err
	}
	if off > 0 {
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			buf = buf[i+1:]
		}
	}
	return string(buf), off > 0, nil
}
