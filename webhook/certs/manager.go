package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

// Keys of the Secret.
const (
	KeyCACert     = "ca.crt"
	KeyCAKey      = "ca.key"
	KeyNextCACert = "ca-next.crt"
	KeyNextCAKey  = "ca-next.key"
	KeyBundle     = "ca-bundle.crt"
	KeyCert       = corev1.TLSCertKey
	KeyKey        = corev1.TLSPrivateKeyKey
)

// Defaults.
const (
	DefaultCAValidity   = 365 * 24 * time.Hour
	DefaultCertValidity = 30 * 24 * time.Hour
	DefaultInterval     = time.Minute
	// renewAt is the fraction of a certificate's life after which it is
	// replaced (the CA: after which its successor is started).
	renewAt = 2.0 / 3
)

// Manager keeps the serving certificate and the webhook configurations'
// caBundle current. Run it in every replica; they share the Secret and
// resolve races by the Secret's resourceVersion.
type Manager struct {
	Client     kubernetes.Interface
	Namespace  string
	SecretName string
	// DNSNames and IPs are the serving certificate's names, e.g. the
	// Service's gantry-webhook.kube-system.svc.
	DNSNames []string
	IPs      []net.IP
	// The webhook configurations whose every webhook's caBundle is kept
	// equal to the CA bundle.
	MutatingWebhookConfigurations   []string
	ValidatingWebhookConfigurations []string

	Clock        clock.PassiveClock
	CAValidity   time.Duration
	CertValidity time.Duration
	Interval     time.Duration

	cert  atomic.Pointer[tls.Certificate]
	ready atomic.Bool
}

// GetCertificate serves the current certificate (tls.Config.GetCertificate).
func (m *Manager) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c := m.cert.Load()
	if c == nil {
		return nil, errors.New("no serving certificate yet")
	}
	return c, nil
}

// Ready reports whether a certificate is served and the CA bundle has been
// written to every webhook configuration at least once.
func (m *Manager) Ready() bool { return m.ready.Load() }

// Run syncs now and every Interval until ctx is done; failures are logged
// and retried on the next tick.
func (m *Manager) Run(ctx context.Context) {
	logger := klog.FromContext(ctx)
	interval := m.Interval
	if interval == 0 {
		interval = DefaultInterval
	}
	for {
		if err := m.Sync(ctx); err != nil {
			logger.Error(err, "Syncing the webhook's serving certificate failed; retrying", "secret", klog.KRef(m.Namespace, m.SecretName), "in", interval)
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// state is the Secret's content, parsed.
type state struct {
	signer, next, serving *keyPair
	bundle                []*x509.Certificate
}

// Sync makes one pass: read (or create) the Secret, renew what is due,
// serve the certificate and inject the bundle.
func (m *Manager) Sync(ctx context.Context) error {
	logger := klog.FromContext(ctx)
	now := m.now()
	secrets := m.Client.CoreV1().Secrets(m.Namespace)
	sec, err := secrets.Get(ctx, m.SecretName, metav1.GetOptions{})
	create := apierrors.IsNotFound(err)
	if err != nil && !create {
		return fmt.Errorf("get secret %s/%s: %w", m.Namespace, m.SecretName, err)
	}
	var st state
	if !create {
		st, err = parseState(sec.Data)
		if err != nil {
			logger.Info("Webhook certificate secret is unreadable; replacing it", "secret", klog.KObj(sec), "err", err)
			st = state{}
		}
	}
	changed := false
	if st.signer == nil {
		if st.signer, err = newCA(now, m.caValidity()); err != nil {
			return err
		}
		st.next, st.serving, changed = nil, nil, true
	}
	injected, err := m.injected(ctx, encodeBundle(st.bundle))
	if err != nil {
		return err
	}
	if st.next != nil && injected {
		// Every configuration trusts the successor: it signs from now on.
		logger.Info("Promoting the webhook's new CA", "notAfter", st.next.cert.NotAfter)
		st.signer, st.next, changed = st.next, nil, true
	}
	if st.next == nil && due(st.signer.cert, now, renewAt) {
		if st.next, err = newCA(now, m.caValidity()); err != nil {
			return err
		}
		logger.Info("Starting the webhook's CA rotation: the new CA joins the bundle first")
		changed = true
	}
	if st.serving == nil || due(st.serving.cert, now, renewAt) || !covers(st.serving.cert, m.DNSNames, m.IPs) ||
		!signedBy(st.serving.cert, st.signer.cert) || now.After(st.serving.cert.NotAfter) {
		if st.serving, err = newServing(now, m.certValidity(), st.signer, m.DNSNames, m.IPs); err != nil {
			return err
		}
		logger.Info("Issued the webhook's serving certificate", "dnsNames", m.DNSNames, "notAfter", st.serving.cert.NotAfter)
		changed = true
	}
	bundle := bundleFor(st, now)
	if !bytes.Equal(encodeBundle(bundle), encodeBundle(st.bundle)) {
		st.bundle, changed = bundle, true
	}
	if changed {
		data := st.data()
		switch {
		case create:
			_, err = secrets.Create(ctx, &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: m.Namespace, Name: m.SecretName},
				Type:       corev1.SecretTypeOpaque,
				Data:       data,
			}, metav1.CreateOptions{})
		default:
			sec = sec.DeepCopy()
			sec.Data = data
			_, err = secrets.Update(ctx, sec, metav1.UpdateOptions{})
		}
		if err != nil {
			// Another replica wrote first (AlreadyExists or Conflict): its
			// Secret is read on the next pass.
			return fmt.Errorf("write secret %s/%s: %w", m.Namespace, m.SecretName, err)
		}
	}
	tc, err := tls.X509KeyPair(st.serving.certPEM, st.serving.keyPEM)
	if err != nil {
		return fmt.Errorf("serving certificate: %w", err)
	}
	m.cert.Store(&tc)
	if err := m.inject(ctx, encodeBundle(st.bundle)); err != nil {
		return err
	}
	m.ready.Store(true)
	return nil
}

// bundleFor is the signer, its successor, and every earlier CA of the
// bundle that has not expired.
func bundleFor(st state, now time.Time) []*x509.Certificate {
	out := []*x509.Certificate{st.signer.cert}
	if st.next != nil {
		out = append(out, st.next.cert)
	}
	for _, c := range st.bundle {
		if c.Equal(st.signer.cert) || (st.next != nil && c.Equal(st.next.cert)) || now.After(c.NotAfter) {
			continue
		}
		out = append(out, c)
	}
	return out
}

func parseState(data map[string][]byte) (state, error) {
	var st state
	var err error
	if st.signer, err = parseKeyPair(data[KeyCACert], data[KeyCAKey]); err != nil {
		return state{}, fmt.Errorf("CA: %w", err)
	}
	if len(data[KeyNextCACert]) > 0 {
		if st.next, err = parseKeyPair(data[KeyNextCACert], data[KeyNextCAKey]); err != nil {
			return state{}, fmt.Errorf("next CA: %w", err)
		}
	}
	if st.serving, err = parseKeyPair(data[KeyCert], data[KeyKey]); err != nil {
		st.serving = nil // re-issued below
	}
	if st.bundle, err = parseBundle(data[KeyBundle]); err != nil {
		st.bundle = nil // rebuilt from the CAs
	}
	return st, nil
}

func (st state) data() map[string][]byte {
	d := map[string][]byte{
		KeyCACert: st.signer.certPEM, KeyCAKey: st.signer.keyPEM,
		KeyCert: st.serving.certPEM, KeyKey: st.serving.keyPEM,
		KeyBundle: encodeBundle(st.bundle),
	}
	if st.next != nil {
		d[KeyNextCACert], d[KeyNextCAKey] = st.next.certPEM, st.next.keyPEM
	}
	return d
}

// injected reports whether every webhook of every configuration carries
// bundle (false for an empty bundle).
func (m *Manager) injected(ctx context.Context, bundle []byte) (bool, error) {
	if len(bundle) == 0 {
		return false, nil
	}
	ok := true
	err := m.eachConfig(ctx, func(caBundles [][]byte) bool {
		for _, b := range caBundles {
			ok = ok && bytes.Equal(b, bundle)
		}
		return false
	})
	return ok, err
}

// inject writes bundle into every webhook of every configuration that lacks it.
func (m *Manager) inject(ctx context.Context, bundle []byte) error {
	return m.eachConfig(ctx, func(caBundles [][]byte) bool {
		changed := false
		for i := range caBundles {
			if !bytes.Equal(caBundles[i], bundle) {
				caBundles[i], changed = bundle, true
			}
		}
		return changed
	})
}

// editBundles calls f with the caBundles bundles point at and, when f
// reports a change, writes them back; it says whether f changed them.
func editBundles(bundles []*[]byte, f func(caBundles [][]byte) bool) bool {
	bs := make([][]byte, len(bundles))
	for i, b := range bundles {
		bs[i] = *b
	}
	if !f(bs) {
		return false
	}
	for i, b := range bundles {
		*b = bs[i]
	}
	return true
}

// eachConfig calls f with the caBundle of every webhook of each
// configuration; when f changes them and returns true, the configuration is
// updated.
func (m *Manager) eachConfig(ctx context.Context, f func(caBundles [][]byte) bool) error {
	adm := m.Client.AdmissionregistrationV1()
	for _, name := range m.MutatingWebhookConfigurations {
		c, err := adm.MutatingWebhookConfigurations().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("get MutatingWebhookConfiguration %s: %w", name, err)
		}
		bundles := make([]*[]byte, len(c.Webhooks))
		for i := range c.Webhooks {
			bundles[i] = &c.Webhooks[i].ClientConfig.CABundle
		}
		if !editBundles(bundles, f) {
			continue
		}
		if _, err := adm.MutatingWebhookConfigurations().Update(ctx, c, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("update the caBundle of MutatingWebhookConfiguration %s: %w", name, err)
		}
	}
	for _, name := range m.ValidatingWebhookConfigurations {
		c, err := adm.ValidatingWebhookConfigurations().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("get ValidatingWebhookConfiguration %s: %w", name, err)
		}
		bundles := make([]*[]byte, len(c.Webhooks))
		for i := range c.Webhooks {
			bundles[i] = &c.Webhooks[i].ClientConfig.CABundle
		}
		if !editBundles(bundles, f) {
			continue
		}
		if _, err := adm.ValidatingWebhookConfigurations().Update(ctx, c, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("update the caBundle of ValidatingWebhookConfiguration %s: %w", name, err)
		}
	}
	return nil
}

func (m *Manager) now() time.Time {
	if m.Clock == nil {
		return time.Now()
	}
	return m.Clock.Now()
}

func (m *Manager) caValidity() time.Duration {
	if m.CAValidity == 0 {
		return DefaultCAValidity
	}
	return m.CAValidity
}

func (m *Manager) certValidity() time.Duration {
	if m.CertValidity == 0 {
		return DefaultCertValidity
	}
	return m.CertValidity
}
