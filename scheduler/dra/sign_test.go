package dra

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/dynamicresources"
	"k8s.io/utils/ptr"

	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/scheduler/apis/config"
)

func TestSignPod(t *testing.T) {
	cpuPod := func(cpu string) *v1.Pod {
		return &v1.Pod{Spec: v1.PodSpec{Containers: []v1.Container{{Name: "c", Resources: v1.ResourceRequirements{
			Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse(cpu)}}}}}}
	}
	claimPod := cpuPod("1")
	claimPod.Spec.ResourceClaims = []v1.PodResourceClaim{{Name: "gpu", ResourceClaimName: ptr.To("c")}}

	pl := &GantryDRA{DynamicResources: &dynamicresources.DynamicResources{}, args: &config.DeviceShareArgs{Policy: policy.FGD}}
	_, st := pl.SignPod(context.Background(), claimPod)
	require.Equal(t, fwk.Unschedulable, st.Code())

	a, st := pl.SignPod(context.Background(), cpuPod("1"))
	require.True(t, st.IsSuccess())
	b, _ := pl.SignPod(context.Background(), cpuPod("1000m"))
	c, _ := pl.SignPod(context.Background(), cpuPod("2"))
	require.Equal(t, a, b, "same host requests, same signature")
	require.NotEqual(t, a, c, "the score reads the CPU request")

	random := &GantryDRA{DynamicResources: &dynamicresources.DynamicResources{}, args: &config.DeviceShareArgs{Policy: policy.Random}}
	_, st = random.SignPod(context.Background(), cpuPod("1"))
	require.Equal(t, fwk.Unschedulable, st.Code())
}
