package source

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	resourceapi "k8s.io/api/resource/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

// Both sources list the DRA objects; a Client only once EnableDRA
// registered their informers, and the memory source drops a deleted
// node's slices.
func TestDRALister(t *testing.T) {
	slice := func(name, node string) *resourceapi.ResourceSlice {
		return &resourceapi.ResourceSlice{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: resourceapi.ResourceSliceSpec{Driver: "gpu.gantry.dev", NodeName: ptr.To(node), Pool: resourceapi.ResourcePool{Name: node}}}
	}
	class := &resourceapi.DeviceClass{ObjectMeta: metav1.ObjectMeta{Name: "gpu.gantry.dev"}}
	claim := &resourceapi.ResourceClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "c"}}
	names := func(l DRALister) []string {
		ctx := context.Background()
		var out []string
		s, err := l.ResourceSlices(ctx)
		require.NoError(t, err)
		for _, o := range s {
			out = append(out, "slice "+o.Name)
		}
		c, err := l.DeviceClasses(ctx)
		require.NoError(t, err)
		for _, o := range c {
			out = append(out, "class "+o.Name)
		}
		cl, err := l.ResourceClaims(ctx)
		require.NoError(t, err)
		for _, o := range cl {
			out = append(out, "claim "+o.Namespace+"/"+o.Name)
		}
		return out
	}
	want := []string{"slice a-gpu", "slice b-gpu", "class gpu.gantry.dev", "claim ns/c"}

	m := NewMemory()
	m.AddNode(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "a"}})
	m.AddSlice(slice("b-gpu", "b"))
	m.AddSlice(slice("a-gpu", "a"))
	m.AddDeviceClass(class)
	m.AddClaim(claim)
	if diff := cmp.Diff(want, names(m)); diff != "" {
		t.Errorf("memory (-want,+got):\n%s", diff)
	}
	m.DeleteNode("a")
	if diff := cmp.Diff(want[1:], names(m)); diff != "" {
		t.Errorf("memory after deleting node a (-want,+got):\n%s", diff)
	}

	cs := k8sfake.NewClientset(slice("a-gpu", "a"), slice("b-gpu", "b"), class, claim)
	require.Empty(t, names(startClient(t, cs)), "no DRA informers, no DRA objects")
	ctx, cancel := context.WithCancel(context.Background())
	f := NewInformerFactory(cs)
	defer func() {
		cancel() // the informers stop with ctx; Shutdown waits for them
		f.Shutdown()
	}()
	c := NewClient(cs, f)
	c.EnableDRA(f)
	require.NoError(t, StartInformers(ctx, f))
	got := names(c)
	// Listers return cache order; compare as sets.
	require.ElementsMatch(t, want, got)
}
