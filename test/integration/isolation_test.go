package integration

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/coretest"
	"github.com/gantry-dev/gantry/core/device"
)

// TestIsolationRequirement: the real gantry-scheduler places a pod that
// requires gantry.dev/isolation: mps only on a card that publishes mps,
// keeps one that no node can isolate pending with the specific reason, and
// reports an unknown level on the pod.
func TestIsolationRequirement(t *testing.T) {
	e := startEnv(t, "Binpack")
	e.createNodes(t,
		coretest.MakeNode("plain").GPUs("T4", 2, 16384).Obj(),
		coretest.MakeNode("mps").GPUs("T4", 2, 16384).Isolation(1, device.IsolationMPS).Obj(),
	)

	t.Run("a pod requiring mps lands on the MPS card", func(t *testing.T) {
		e.createPod(t, coretest.MakePod("isolated").GPUPercent(25).Annotation(contract.AnnotationIsolation, "mps").Obj())
		pod := e.waitBound(t, "default", "isolated", 30*time.Second)
		assert.Equal(t, "mps", pod.Spec.NodeName)
		a := allocationOf(t, pod)
		require.Len(t, a.Containers, 1)
		assert.Equal(t, 1, a.Containers[0].Devices[0].Index)
	})

	t.Run("a pod requiring mps on two cards stays pending with the reason", func(t *testing.T) {
		e.createPod(t, coretest.MakePod("two-mps").GPUPercent(200).Annotation(contract.AnnotationIsolation, "mps").Obj())
		note := e.waitEvent(t, "default", "two-mps", 30*time.Second)
		assert.Contains(t, note, `node has 0 GPU with isolation mps, container "main" asks for 2 (the pod requires gantry.dev/isolation: mps)`)
		assert.Contains(t, note, `node has 1 GPU with isolation mps, container "main" asks for 2`)
		p, err := e.client.CoreV1().Pods("default").Get(context.Background(), "two-mps", metav1.GetOptions{})
		require.NoError(t, err)
		assert.Empty(t, p.Spec.NodeName)
	})

	t.Run("an unknown level is refused with a specific message", func(t *testing.T) {
		e.createPod(t, coretest.MakePod("hami").GPUPercent(10).Annotation(contract.AnnotationIsolation, "hami-core").Obj())
		note := e.waitEvent(t, "default", "hami", 30*time.Second)
		assert.Contains(t, note, `metadata.annotations[gantry.dev/isolation]: Unsupported value: "hami-core": supported values: "none", "mps", "mig"`)
	})
	require.False(t, e.scheduler.Exited(), "gantry-scheduler exited")
}
