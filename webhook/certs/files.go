package certs

import (
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Files serves a certificate that something else writes, such as the Secret
// cert-manager issues, mounted as tls.crt and tls.key in Dir. The files are
// re-read when they change (checked at most every few seconds), so a
// renewal is served without a restart; cert-manager's CA injector keeps the
// caBundle current.
type Files struct {
	Dir string

	mu      sync.Mutex
	cert    *tls.Certificate
	modTime time.Time
	checked time.Time
}

// recheck bounds how often the files' modification times are looked at.
const recheck = 5 * time.Second

// Load reads the files now; an error names what is wrong.
func (f *Files) Load() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.load(time.Now())
}

func (f *Files) load(now time.Time) error {
	certFile, keyFile := filepath.Join(f.Dir, KeyCert), filepath.Join(f.Dir, KeyKey)
	st, err := os.Stat(certFile)
	if err != nil {
		return fmt.Errorf("serving certificate: %w", err)
	}
	f.checked = now
	if f.cert != nil && st.ModTime().Equal(f.modTime) {
		return nil
	}
	tc, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("serving certificate in %s: %w", f.Dir, err)
	}
	f.cert, f.modTime = &tc, st.ModTime()
	return nil
}

// GetCertificate serves the files' certificate (tls.Config.GetCertificate).
// A failed re-read keeps serving the certificate loaded before.
func (f *Files) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	if f.cert == nil || now.Sub(f.checked) > recheck {
		if err := f.load(now); err != nil && f.cert == nil {
			return nil, err
		}
	}
	return f.cert, nil
}
