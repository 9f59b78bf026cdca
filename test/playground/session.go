package playground

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// session lets a long-running program use test/harness, whose helpers take
// a testing.TB: it implements the methods the harness calls (Helper, Name,
// Logf, Errorf, Fatalf, Cleanup, TempDir, Failed) and panics with a
// fatalError on Fatal, which Start recovers. The embedded interface is nil;
// any other method panics, which a test of this package would catch.
type session struct {
	testing.TB
	name string
	dir  string // parent of every TempDir, removed by close
	logf func(format string, args ...any)

	mu       sync.Mutex
	cleanups []func()
	failed   bool
	temps    int
}

type fatalError struct{ msg string }

func (e fatalError) Error() string { return e.msg }

func newSession(name string, logf func(string, ...any)) (*session, error) {
	dir, err := os.MkdirTemp("", "gantry-playground-")
	if err != nil {
		return nil, err
	}
	return &session{name: name, dir: dir, logf: logf}, nil
}

func (s *session) Helper()      {}
func (s *session) Name() string { return s.name }

func (s *session) Logf(format string, args ...any) { s.logf(format, args...) }
func (s *session) Log(args ...any)                 { s.logf("%s", fmt.Sprint(args...)) }

func (s *session) Errorf(format string, args ...any) {
	s.mu.Lock()
	s.failed = true
	s.mu.Unlock()
	s.logf(format, args...)
}

func (s *session) Error(args ...any) { s.Errorf("%s", fmt.Sprint(args...)) }

func (s *session) Fatalf(format string, args ...any) {
	s.mu.Lock()
	s.failed = true
	s.mu.Unlock()
	panic(fatalError{fmt.Sprintf(format, args...)})
}

func (s *session) Fatal(args ...any) { s.Fatalf("%s", fmt.Sprint(args...)) }

func (s *session) Failed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

func (s *session) Cleanup(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cleanups = append(s.cleanups, f)
}

func (s *session) TempDir() string {
	s.mu.Lock()
	s.temps++
	n := s.temps
	s.mu.Unlock()
	dir := filepath.Join(s.dir, fmt.Sprintf("%03d", n))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		s.Fatalf("playground: %v", err)
	}
	return dir
}

// close runs the cleanups, last registered first (processes stop before
// the directories they use go), then removes the session's directory.
// A cleanup that fails marks the session failed and the rest still run.
func (s *session) close() {
	for {
		s.mu.Lock()
		if len(s.cleanups) == 0 {
			s.mu.Unlock()
			break
		}
		f := s.cleanups[len(s.cleanups)-1]
		s.cleanups = s.cleanups[:len(s.cleanups)-1]
		s.mu.Unlock()
		func() {
			defer func() {
				if r := recover(); r != nil {
					s.Errorf("playground: cleanup: %v", r)
				}
			}()
			f()
		}()
	}
	_ = os.RemoveAll(s.dir)
}
