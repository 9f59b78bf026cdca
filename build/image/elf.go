package image

import (
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// ErrBaseMismatch is returned when a binary cannot run on its image's base.
var ErrBaseMismatch = errors.New("binary does not fit its base")

// linkage is what the dynamic loader needs to start a binary.
type linkage struct {
	interp string   // PT_INTERP, empty for a static binary
	needed []string // DT_NEEDED
}

func readLinkage(binary string) (linkage, error) {
	f, err := elf.Open(binary)
	if err != nil {
		return linkage{}, fmt.Errorf("%s is not an ELF executable: %w", binary, err)
	}
	defer f.Close()
	var l linkage
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		b := make([]byte, p.Filesz)
		if _, err := p.ReadAt(b, 0); err != nil {
			return linkage{}, fmt.Errorf("reading the interpreter of %s: %w", binary, err)
		}
		l.interp = strings.TrimRight(string(b), "\x00")
	}
	if l.needed, err = f.ImportedLibraries(); err != nil {
		return linkage{}, fmt.Errorf("reading the libraries %s needs: %w", binary, err)
	}
	return l, nil
}

// checkStatic refuses a binary that needs a dynamic loader.
func checkStatic(binary string) error {
	l, err := readLinkage(binary)
	if err != nil {
		return err
	}
	if l.interp != "" || len(l.needed) > 0 {
		return fmt.Errorf("%w: %s is dynamically linked (interpreter %q, needs %v) but its image has an empty base; build it with CGO_ENABLED=0",
			ErrBaseMismatch, binary, l.interp, l.needed)
	}
	return nil
}

// libDirs are where glibc's loader looks without an ld.so.cache.
var libDirs = []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"}

// checkDynamic requires the binary's interpreter and every library it
// names to exist in rootfs (symbolic links resolved inside rootfs).
func checkDynamic(binary, rootfs string) error {
	l, err := readLinkage(binary)
	if err != nil {
		return err
	}
	if l.interp == "" {
		return nil // static binaries run anywhere
	}
	if !existsIn(rootfs, l.interp) {
		return fmt.Errorf("%w: %s needs the loader %s, which the base %s lacks", ErrBaseMismatch, binary, l.interp, rootfs)
	}
	for _, lib := range l.needed {
		found := false
		for _, dir := range libDirs {
			if existsIn(rootfs, path.Join(dir, lib)) {
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("%w: %s needs %s, which the base %s lacks (searched %v)", ErrBaseMismatch, binary, lib, rootfs, libDirs)
		}
	}
	return nil
}

// existsIn reports whether the absolute path p names a regular file in
// rootfs, following symbolic links as a chroot would.
func existsIn(rootfs, p string) bool {
	for hops := 0; hops < 40; hops++ {
		resolved, err := resolveDirs(rootfs, p)
		if err != nil {
			return false
		}
		fi, err := os.Lstat(filepath.Join(rootfs, resolved))
		if err != nil {
			return false
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return fi.Mode().IsRegular()
		}
		target, err := os.Readlink(filepath.Join(rootfs, resolved))
		if err != nil {
			return false
		}
		if !path.IsAbs(target) {
			target = path.Join(path.Dir(resolved), target)
		}
		p = target
	}
	return false
}

// resolveDirs resolves symbolic links in p's directories (not its last
// element) inside rootfs, e.g. /lib64 -> usr/lib64.
func resolveDirs(rootfs, p string) (string, error) {
	parts := strings.Split(strings.Trim(path.Clean(p), "/"), "/")
	cur := "/"
	for i, part := range parts {
		next := path.Join(cur, part)
		if i == len(parts)-1 {
			return next, nil
		}
		for hops := 0; ; hops++ {
			if hops == 40 {
				return "", fmt.Errorf("too many links at %s", next)
			}
			fi, err := os.Lstat(filepath.Join(rootfs, next))
			if err != nil {
				return "", err
			}
			if fi.Mode()&fs.ModeSymlink == 0 {
				break
			}
			target, err := os.Readlink(filepath.Join(rootfs, next))
			if err != nil {
				return "", err
			}
			if !path.IsAbs(target) {
				target = path.Join(path.Dir(next), target)
			}
			next = path.Clean(target)
		}
		cur = next
	}
	return cur, nil
}
