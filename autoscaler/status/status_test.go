package status

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
)

func TestConfigMapWriter(t *testing.T) {
	ctx := context.Background()
	s := Status{Time: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), UnschedulablePods: 3}

	// The shipped ConfigMap is updated in place, other keys kept.
	client := fake.NewClientset(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "st"}, Data: map[string]string{"other": "x"}})
	w := &ConfigMapWriter{Client: client, Namespace: "kube-system", Name: "st"}
	require.NoError(t, w.Write(ctx, s))
	cm, err := client.CoreV1().ConfigMaps("kube-system").Get(ctx, "st", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Contains(t, cm.Data["status"], "unschedulablePods: 3")
	assert.Equal(t, "x", cm.Data["other"])

	// Missing, and create refused as by the shipped Role: a clear error.
	client = fake.NewClientset()
	client.PrependReactor("create", "configmaps", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, "st", nil)
	})
	w = &ConfigMapWriter{Client: client, Namespace: "kube-system", Name: "st"}
	err = w.Write(ctx, s)
	assert.ErrorContains(t, err, "status ConfigMap kube-system/st is missing and the autoscaler may not create it")
	assert.True(t, apierrors.IsForbidden(err))
}
