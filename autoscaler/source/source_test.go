package source

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sfake "k8s.io/client-go/kubernetes/fake"
)

func TestUnmarkToBeDeleted(t *testing.T) {
	other := corev1.Taint{Key: "other", Effect: corev1.TaintEffectNoSchedule}
	node := func() *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}, Spec: corev1.NodeSpec{Taints: []corev1.Taint{other}}}
	}
	type src interface {
		Source
		Unmarker
	}
	tests := []struct {
		name string
		src  func() src
	}{
		{name: "memory", src: func() src {
			m := NewMemory()
			m.AddNode(node())
			return m
		}},
		{name: "client", src: func() src { return &Client{Client: k8sfake.NewClientset(node())} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s := tt.src()
			get := func() *corev1.Node {
				nodes, err := s.Nodes(ctx)
				require.NoError(t, err)
				require.Len(t, nodes, 1)
				return nodes[0]
			}
			require.NoError(t, s.MarkToBeDeleted(ctx, "n"))
			assert.True(t, HasToBeDeleted(get()))
			assert.True(t, get().Spec.Unschedulable)
			require.NoError(t, s.UnmarkToBeDeleted(ctx, "n"))
			n := get()
			assert.False(t, HasToBeDeleted(n))
			assert.False(t, n.Spec.Unschedulable)
			assert.Equal(t, []corev1.Taint{other}, n.Spec.Taints, "other taints stay")
			assert.Error(t, s.UnmarkToBeDeleted(ctx, "missing"))
		})
	}
}
