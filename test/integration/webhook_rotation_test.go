package integration

import (
	"context"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/coretest"
)

// TestWebhookCertificateRotation runs gantry-webhook with a 12 s serving
// certificate and a 40 s CA and keeps calling it through kube-apiserver
// while both rotate: every call must reach the webhook over TLS (the
// authority webhook fails closed, so a certificate kube-apiserver cannot
// verify would show as "failed calling webhook" instead of its denial).
func TestWebhookCertificateRotation(t *testing.T) {
	e := startAdmissionEnv(t, admissionOptions{noScheduler: true,
		webhookArgs: []string{"--ca-validity=40s", "--cert-validity=12s", "--cert-sync-interval=1s"}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tenant := tenantClient(t, ctx, e.cp)
	forged := coretest.MakePod("forged").Requests(100, 64).Annotation(contract.AnnotationAllocation, `{"v":"v1","node":"n","containers":[]}`).Obj()

	cas, serving := map[[32]byte]bool{}, map[[32]byte]bool{}
	calls := 0
	deadline := time.Now().Add(100 * time.Second)
	for (len(cas) < 2 || len(serving) < 4) && time.Now().Before(deadline) {
		sec, err := e.client.CoreV1().Secrets(shippedNamespace).Get(ctx, "gantry-webhook-tls", metav1.GetOptions{})
		require.NoError(t, err)
		cas[sha256.Sum256(sec.Data["ca.crt"])] = true
		serving[sha256.Sum256(sec.Data["tls.crt"])] = true

		_, err = tenant.CoreV1().Pods("default").Create(ctx, forged, metav1.CreateOptions{})
		require.Error(t, err)
		require.True(t, strings.Contains(err.Error(), `admission webhook "authority.pods.gantry.dev" denied the request`),
			"call %d did not reach the webhook: %v", calls, err)
		calls++
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("RESULT: %d calls through %d CAs and %d serving certificates, every one answered by the webhook", calls, len(cas), len(serving))
	require.GreaterOrEqual(t, len(cas), 2, "the CA rotated")
	require.GreaterOrEqual(t, len(serving), 4, "the serving certificate was renewed")
	require.False(t, e.webhook.Exited())
}
