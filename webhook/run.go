package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"k8s.io/component-base/metrics"
	"k8s.io/klog/v2"
)

// Server is what [Run] serves.
type Server struct {
	// Addr serves the admission handler over TLS.
	Addr    string
	Handler http.Handler
	// GetCertificate returns the serving certificate (certs.Manager or
	// certs.Files).
	GetCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// HealthAddr serves /healthz, /readyz and /metrics over plain HTTP;
	// none when empty.
	HealthAddr string
	// Ready reports whether the webhook can be called (a certificate is
	// served and trusted); /readyz fails until then.
	Ready    func() bool
	Registry metrics.KubeRegistry
}

// Run serves until ctx is done, then shuts down gracefully.
func Run(ctx context.Context, s Server) error {
	logger := klog.FromContext(ctx)
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.Addr, err)
	}
	srv := &http.Server{
		Handler: s.Handler,
		TLSConfig: &tls.Config{
			MinVersion:     tls.VersionTLS12,
			GetCertificate: s.GetCertificate,
		},
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	servers := []*http.Server{srv}
	errc := make(chan error, 2)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	logger.Info("Serving admission reviews", "address", ln.Addr().String())

	if s.HealthAddr != "" {
		hln, err := net.Listen("tcp", s.HealthAddr)
		if err != nil {
			_ = srv.Close()
			return fmt.Errorf("listen on %s: %w", s.HealthAddr, err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
		mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
			if s.Ready != nil && !s.Ready() {
				http.Error(w, "no trusted serving certificate yet", http.StatusServiceUnavailable)
				return
			}
			_, _ = w.Write([]byte("ok"))
		})
		if s.Registry != nil {
			mux.Handle("/metrics", metrics.HandlerFor(s.Registry, metrics.HandlerOpts{}))
		}
		hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, hs)
		go func() { errc <- hs.Serve(hln) }()
	}

	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			for _, s := range servers {
				_ = s.Close()
			}
			return fmt.Errorf("serving: %w", err)
		}
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(shutdown)
	}
	return nil
}
