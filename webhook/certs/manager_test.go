package certs

import (
	"context"
	"crypto/x509"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	testingclock "k8s.io/utils/clock/testing"
)

const (
	ns     = "kube-system"
	secret = "gantry-webhook-tls"
)

var dnsNames = []string{"gantry-webhook.kube-system.svc"}

func configs() (*admissionregistrationv1.MutatingWebhookConfiguration, *admissionregistrationv1.ValidatingWebhookConfiguration) {
	return &admissionregistrationv1.MutatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: "gantry-webhook"},
			Webhooks:   []admissionregistrationv1.MutatingWebhook{{Name: "a.gantry.dev"}, {Name: "b.gantry.dev"}},
		}, &admissionregistrationv1.ValidatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: "gantry-webhook"},
			Webhooks:   []admissionregistrationv1.ValidatingWebhook{{Name: "c.gantry.dev"}},
		}
}

func newManager(client *fake.Clientset, clk *testingclock.FakeClock) *Manager {
	return &Manager{
		Client: client, Namespace: ns, SecretName: secret, DNSNames: dnsNames, IPs: []net.IP{net.ParseIP("127.0.0.1")},
		MutatingWebhookConfigurations: []string{"gantry-webhook"}, ValidatingWebhookConfigurations: []string{"gantry-webhook"},
		Clock: clk,
	}
}

// served returns the serving certificate and checks that every webhook
// configuration's caBundle verifies it for the Service name.
func served(t *testing.T, ctx context.Context, m *Manager, client *fake.Clientset) *x509.Certificate {
	t.Helper()
	tc, err := m.GetCertificate(nil)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(tc.Certificate[0])
	require.NoError(t, err)
	mw, err := client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, "gantry-webhook", metav1.GetOptions{})
	require.NoError(t, err)
	vw, err := client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, "gantry-webhook", metav1.GetOptions{})
	require.NoError(t, err)
	bundles := [][]byte{mw.Webhooks[0].ClientConfig.CABundle, mw.Webhooks[1].ClientConfig.CABundle, vw.Webhooks[0].ClientConfig.CABundle}
	for _, b := range bundles {
		pool := x509.NewCertPool()
		require.True(t, pool.AppendCertsFromPEM(b), "caBundle is PEM")
		_, err := leaf.Verify(x509.VerifyOptions{DNSName: dnsNames[0], Roots: pool, CurrentTime: m.Clock.Now(),
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		require.NoError(t, err, "caBundle verifies the served certificate")
	}
	return leaf
}

func secretData(t *testing.T, ctx context.Context, client *fake.Clientset) map[string][]byte {
	t.Helper()
	s, err := client.CoreV1().Secrets(ns).Get(ctx, secret, metav1.GetOptions{})
	require.NoError(t, err)
	return s.Data
}

func TestManagerIssuesRenewsAndRotates(t *testing.T) {
	ctx := context.Background()
	mw, vw := configs()
	client := fake.NewClientset(mw, vw)
	clk := testingclock.NewFakeClock(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	m := newManager(client, clk)
	require.False(t, m.Ready())
	_, err := m.GetCertificate(nil)
	require.Error(t, err, "nothing to serve before the first sync")

	require.NoError(t, m.Sync(ctx))
	require.True(t, m.Ready())
	first := served(t, ctx, m, client)
	firstCA := secretData(t, ctx, client)[KeyCACert]

	// A second replica adopts the Secret as it is.
	other := newManager(client, clk)
	require.NoError(t, other.Sync(ctx))
	require.True(t, served(t, ctx, other, client).Equal(first), "replicas serve one certificate")

	// Nothing is due: nothing changes.
	clk.Step(24 * time.Hour)
	require.NoError(t, m.Sync(ctx))
	require.True(t, served(t, ctx, m, client).Equal(first))

	// Two thirds into its 30 days the serving certificate is renewed by
	// the same CA.
	clk.Step(20 * 24 * time.Hour)
	require.NoError(t, m.Sync(ctx))
	renewed := served(t, ctx, m, client)
	require.False(t, renewed.Equal(first))
	require.Equal(t, firstCA, secretData(t, ctx, client)[KeyCACert])

	// New names: re-issued at once.
	m.DNSNames = []string{"gantry-webhook.gantry.svc"}
	require.NoError(t, m.Sync(ctx))
	tc, err := m.GetCertificate(nil)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(tc.Certificate[0])
	require.NoError(t, err)
	require.Equal(t, []string{"gantry-webhook.gantry.svc"}, leaf.DNSNames)
	m.DNSNames = dnsNames

	// Two thirds into the CA's year: the successor joins the bundle while
	// the old CA still signs...
	clk.Step(230 * 24 * time.Hour)
	require.NoError(t, m.Sync(ctx))
	d := secretData(t, ctx, client)
	require.Equal(t, firstCA, d[KeyCACert], "the old CA still signs")
	require.NotEmpty(t, d[KeyNextCACert])
	bundle, err := parseBundle(d[KeyBundle])
	require.NoError(t, err)
	require.Len(t, bundle, 2)
	beforePromotion := served(t, ctx, m, client)

	// ...and signs once every configuration trusts it; the old CA stays
	// in the bundle, so a replica still serving the old certificate is
	// trusted too.
	require.NoError(t, m.Sync(ctx))
	d = secretData(t, ctx, client)
	require.NotEqual(t, firstCA, d[KeyCACert])
	require.Empty(t, d[KeyNextCACert])
	promoted := served(t, ctx, m, client)
	require.False(t, promoted.Equal(beforePromotion))
	bundle, err = parseBundle(d[KeyBundle])
	require.NoError(t, err)
	require.Len(t, bundle, 2)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(d[KeyBundle])
	_, err = beforePromotion.Verify(x509.VerifyOptions{DNSName: dnsNames[0], Roots: pool, CurrentTime: clk.Now()})
	require.NoError(t, err)

	// After the old CA expires it leaves the bundle.
	clk.Step(200 * 24 * time.Hour)
	require.NoError(t, m.Sync(ctx))
	bundle, err = parseBundle(secretData(t, ctx, client)[KeyBundle])
	require.NoError(t, err)
	require.Len(t, bundle, 1)
	served(t, ctx, m, client)
}

func TestManagerReplacesAnUnreadableSecret(t *testing.T) {
	ctx := context.Background()
	mw, vw := configs()
	bad := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: secret}, Data: map[string][]byte{KeyCACert: []byte("garbage")}}
	client := fake.NewClientset(mw, vw, bad)
	m := newManager(client, testingclock.NewFakeClock(time.Now()))
	require.NoError(t, m.Sync(ctx))
	served(t, ctx, m, client)
}

func TestManagerNeedsItsConfigurations(t *testing.T) {
	client := fake.NewClientset()
	m := newManager(client, testingclock.NewFakeClock(time.Now()))
	err := m.Sync(context.Background())
	require.ErrorContains(t, err, "MutatingWebhookConfiguration gantry-webhook")
	require.False(t, m.Ready())
}

// Run syncs at once, keeps serving and returns when its context ends.
func TestManagerRun(t *testing.T) {
	mw, vw := configs()
	client := fake.NewClientset(mw, vw)
	m := newManager(client, testingclock.NewFakeClock(time.Now()))
	m.Interval = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	require.Eventually(t, m.Ready, 5*time.Second, 5*time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
