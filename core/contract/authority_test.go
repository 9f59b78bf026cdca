package contract_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/coretest"
	"github.com/gantry-dev/gantry/core/device"
)

func gpus(node, container string, units int, ids ...string) contract.Allocation {
	ca := contract.ContainerAllocation{Container: container, Kind: device.GPU}
	for i, id := range ids {
		ca.Devices = append(ca.Devices, contract.DeviceShare{ID: id, Index: i, Units: units})
	}
	return contract.Allocation{Node: node, Containers: []contract.ContainerAllocation{ca}}
}

func encode(t *testing.T, a contract.Allocation) string {
	t.Helper()
	v, err := contract.EncodeAllocation(a)
	require.NoError(t, err)
	return v
}

func TestAuthorityCounted(t *testing.T) {
	quarter := gpus("n1", "main", 25, "g0")
	both := gpus("n1", "main", 100, "g0", "g1")
	tests := []struct {
		name      string
		pod       *corev1.Pod
		authority contract.Authority
		want      contract.Allocation
		wantSrc   contract.Source
		wantOK    bool
		// wantRefused: err wraps ErrNotCounted.
		wantRefused bool
	}{
		{
			name: "intent of a pod a Gantry profile bound, matching its request",
			pod:  coretest.MakePod("p").GPUPercent(25).Node("n1").Annotation(contract.AnnotationAllocation, encode(t, quarter)).Obj(),
			want: quarter, wantSrc: contract.FromScheduler, wantOK: true,
		},
		{
			name: "whole devices match a multiple of 100",
			pod:  coretest.MakePod("p").GPUPercent(200).Node("n1").Annotation(contract.AnnotationAllocation, encode(t, both)).Obj(),
			want: both, wantSrc: contract.FromScheduler, wantOK: true,
		},
		{
			name:        "forged intent on a CPU-only pod",
			pod:         coretest.MakePod("tenant").Requests(100, 64).Node("n1").Annotation(contract.AnnotationAllocation, encode(t, both)).Obj(),
			wantRefused: true,
		},
		{
			name:        "intent claiming more than the pod requests",
			pod:         coretest.MakePod("p").GPUPercent(10).Node("n1").Annotation(contract.AnnotationAllocation, encode(t, both)).Obj(),
			wantRefused: true,
		},
		{
			name:        "intent with the right devices but other units",
			pod:         coretest.MakePod("p").GPUPercent(10).Node("n1").Annotation(contract.AnnotationAllocation, encode(t, quarter)).Obj(),
			wantRefused: true,
		},
		{
			name:        "intent for a container the pod does not have",
			pod:         coretest.MakePod("p").GPUPercent(25).Node("n1").Annotation(contract.AnnotationAllocation, encode(t, contract.Allocation{Node: "n1", Containers: append(quarter.Containers, gpus("n1", "ghost", 25, "g1").Containers...)})).Obj(),
			wantRefused: true,
		},
		{
			name: "intent of a pod another scheduler placed",
			pod: func() *corev1.Pod {
				p := coretest.MakePod("p").GPUPercent(25).Node("n1").Annotation(contract.AnnotationAllocation, encode(t, quarter)).Obj()
				p.Spec.SchedulerName = corev1.DefaultSchedulerName
				return p
			}(),
			wantRefused: true,
		},
		{
			name: "intent of a pod another Gantry profile placed (by prefix)",
			pod: func() *corev1.Pod {
				p := coretest.MakePod("p").GPUPercent(25).Node("n1").Annotation(contract.AnnotationAllocation, encode(t, quarter)).Obj()
				p.Spec.SchedulerName = "gantry-bind"
				return p
			}(),
			want: quarter, wantSrc: contract.FromScheduler, wantOK: true,
		},
		{
			name: "intent of a pod a listed Gantry profile placed",
			pod: func() *corev1.Pod {
				p := coretest.MakePod("p").GPUPercent(25).Node("n1").Annotation(contract.AnnotationAllocation, encode(t, quarter)).Obj()
				p.Spec.SchedulerName = "shares"
				return p
			}(),
			authority: contract.Authority{Profiles: []string{"shares"}},
			want:      quarter, wantSrc: contract.FromScheduler, wantOK: true,
		},
		{
			name:        "intent for another node",
			pod:         coretest.MakePod("p").GPUPercent(25).Node("n2").Annotation(contract.AnnotationAllocation, encode(t, quarter)).Obj(),
			wantRefused: true,
		},
		{
			name:        "intent on an unbound pod",
			pod:         coretest.MakePod("p").GPUPercent(25).Annotation(contract.AnnotationAllocation, encode(t, quarter)).Obj(),
			wantRefused: true,
		},
		{
			name: "the agent's record counts whatever scheduler bound the pod",
			pod: func() *corev1.Pod {
				p := coretest.MakePod("p").GPUPercent(25).Node("n1").Annotation(contract.AnnotationAllocated, encode(t, quarter)).Obj()
				p.Spec.SchedulerName = corev1.DefaultSchedulerName
				return p
			}(),
			want: quarter, wantSrc: contract.FromNode, wantOK: true,
		},
		{
			name: "a refused agent record falls back to a sound intent, with the reason",
			pod: coretest.MakePod("p").GPUPercent(25).Node("n1").
				Annotation(contract.AnnotationAllocated, encode(t, both)).
				Annotation(contract.AnnotationAllocation, encode(t, quarter)).Obj(),
			want: quarter, wantSrc: contract.FromScheduler, wantOK: true, wantRefused: true,
		},
		{
			name: "terminal pods hold nothing",
			pod: func() *corev1.Pod {
				p := coretest.MakePod("p").GPUPercent(25).Node("n1").Annotation(contract.AnnotationAllocation, encode(t, quarter)).Obj()
				p.Status.Phase = corev1.PodSucceeded
				return p
			}(),
		},
		{
			name: "no record",
			pod:  coretest.MakePod("p").GPUPercent(25).Node("n1").Obj(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, src, ok, err := tt.authority.Counted(tt.pod)
			require.Equal(t, tt.wantOK, ok, "ok (err %v)", err)
			require.Equal(t, tt.wantRefused, errors.Is(err, contract.ErrNotCounted), "err = %v", err)
			require.Equal(t, tt.wantSrc, src)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("allocation (-want,+got):\n%s", diff)
			}

			// Intent judges the scheduler's intent alone, as Counted
			// does when the agent has recorded nothing.
			intentOnly := tt.pod.DeepCopy()
			delete(intentOnly.Annotations, contract.AnnotationAllocated)
			wantIntent, _, wantIntentOK, wantErr := tt.authority.Counted(intentOnly)
			intent, intentOK, err := tt.authority.Intent(tt.pod)
			require.Equal(t, wantIntentOK, intentOK, "Intent ok (err %v)", err)
			require.Equal(t, errors.Is(wantErr, contract.ErrNotCounted), errors.Is(err, contract.ErrNotCounted), "Intent err = %v", err)
			if diff := cmp.Diff(wantIntent, intent); diff != "" {
				t.Errorf("Intent (-want,+got):\n%s", diff)
			}
		})
	}
}

func TestAuthorityCountedMalformed(t *testing.T) {
	pod := coretest.MakePod("p").GPUPercent(25).Node("n1").Annotation(contract.AnnotationAllocation, "{").Obj()
	_, _, ok, err := contract.Authority{}.Counted(pod)
	require.False(t, ok)
	require.ErrorContains(t, err, "invalid gantry.dev/allocation annotation")
	require.NotErrorIs(t, err, contract.ErrNotCounted)
}
