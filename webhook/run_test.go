package webhook

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8smetrics "k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/testutil"

	"github.com/gantry-dev/gantry/core/coretest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func selfSigned(t *testing.T) (*tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// TestRun serves reviews over TLS and health over HTTP, reports readiness,
// counts reviews in its metrics and stops cleanly (goleak checks that no
// goroutine outlives it).
func TestRun(t *testing.T) {
	cert, pool := selfSigned(t)
	var ready atomic.Bool
	m := NewMetrics()
	reg := k8smetrics.NewKubeRegistry()
	m.Register(reg)
	h, err := Handler(testConfig(), m)
	require.NoError(t, err)
	addr, health := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Server{Addr: addr, Handler: h, HealthAddr: health, Registry: reg, Ready: ready.Load,
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cert, nil }})
	}()
	plain := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	defer plain.CloseIdleConnections()
	status := func(path string) int {
		resp, err := plain.Get("http://" + health + path)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Eventually(t, func() bool { return status("/healthz") == http.StatusOK }, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, http.StatusServiceUnavailable, status("/readyz"), "not ready before a trusted certificate")
	ready.Store(true)
	require.Equal(t, http.StatusOK, status("/readyz"))

	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	client := &http.Client{Timeout: 5 * time.Second, Transport: tr}
	defer tr.CloseIdleConnections()
	req := reviewReq{op: admissionv1.Create, user: tenantUser, obj: coretest.MakePod("p").GPUPercent(150).Obj()}.request(t)
	body, err := json.Marshal(admissionv1.AdmissionReview{TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"}, Request: req})
	require.NoError(t, err)
	resp, err := client.Post(fmt.Sprintf("https://%s%s", addr, PathValidate), "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	var out admissionv1.AdmissionReview
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	resp.Body.Close()
	require.False(t, out.Response.Allowed)

	require.NoError(t, testutil.GatherAndCompare(reg, bytes.NewBufferString(`
# HELP gantry_webhook_reviews_total [ALPHA] Admission reviews answered, by path and result (allowed, patched, denied, bad_request).
# TYPE gantry_webhook_reviews_total counter
gantry_webhook_reviews_total{path="/validate-pods",result="denied"} 1
`), "gantry_webhook_reviews_total"))

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

func TestRunRefusesATakenAddress(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	err = Run(context.Background(), Server{Addr: l.Addr().String(), Handler: http.NotFoundHandler()})
	require.ErrorContains(t, err, "listen on "+l.Addr().String())
}
