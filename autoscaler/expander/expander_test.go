package expander

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gantry-dev/gantry/autoscaler/apis/config"
	"github.com/gantry-dev/gantry/autoscaler/cloudprovider"
	"github.com/gantry-dev/gantry/autoscaler/estimator"
	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/coretest"
	"github.com/gantry-dev/gantry/core/device"
)

func grp(name string, count int, price float64, priority int) config.NodeGroup {
	return config.NodeGroup{Name: name, MaxSize: 10, PricePerHour: price, Priority: priority, Template: config.NodeTemplate{
		Device: config.DeviceTemplate{Kind: device.GPU, Model: "A100", Count: count, MemoryMiB: 81920},
		CPU:    resource.MustParse("32"), Memory: resource.MustParse("64Gi"), Pods: 110,
	}}
}

// option builds an option whose nodes hold pods with the given units on
// the given cards: cards[node][i] is the units of pod i on card i%count.
func option(t *testing.T, g config.NodeGroup, units ...[]int) Option {
	o := Option{Group: g, NodeCount: len(units)}
	for ni, us := range units {
		name := fmt.Sprintf("%s-%d", g.Name, ni)
		n, err := cloudprovider.BuildNode(g, name)
		require.NoError(t, err)
		en := estimator.Node{Node: n}
		for pi, u := range us {
			a := contract.Allocation{Node: name, Containers: []contract.ContainerAllocation{{Container: "main", Kind: device.GPU,
				Devices: []contract.DeviceShare{{ID: fmt.Sprintf("%s-gpu-%d", name, pi%g.Template.Device.Count), Index: pi % g.Template.Device.Count, Units: u}}}}}
			v, err := contract.EncodeAllocation(a)
			require.NoError(t, err)
			p := coretest.MakePod(fmt.Sprintf("%s-p%d", name, pi)).GPUPercent(int64(u)).Requests(1000, 1024).
				Annotation(contract.AnnotationAllocation, v).Node(name).Obj()
			en.Pods = append(en.Pods, p)
			o.Pods = append(o.Pods, p)
		}
		o.Nodes = append(o.Nodes, en)
	}
	return o
}

func names(opts []Option) []string {
	var out []string
	for _, o := range opts {
		out = append(out, o.Group.Name)
	}
	return out
}

func TestFilters(t *testing.T) {
	tests := []struct {
		name    string
		filter  Filter
		options func(t *testing.T) []Option
		want    []string
	}{
		{name: "least-waste prefers the node the shares fill", filter: LeastWaste{}, options: func(t *testing.T) []Option {
			return []Option{option(t, grp("one-card", 1, 1, 0), []int{50, 50}), option(t, grp("eight-cards", 8, 1, 0), []int{50, 50})}
		}, want: []string{"one-card"}},
		{name: "least-waste ties are all kept", filter: LeastWaste{}, options: func(t *testing.T) []Option {
			return []Option{option(t, grp("a", 1, 1, 0), []int{100}), option(t, grp("b", 1, 1, 0), []int{100})}
		}, want: []string{"a", "b"}},
		{name: "fragmentation prefers free units the pending shapes can use", filter: Fragmentation{}, options: func(t *testing.T) []Option {
			// 70% on one card leaves 30 no 50%-or-larger shape can use.
			a := option(t, grp("strands", 2, 1, 0), []int{70})
			b := option(t, grp("clean", 2, 1, 0), []int{50})
			a.Pods = append(a.Pods, b.Pods...)
			return []Option{a, b}
		}, want: []string{"clean"}},
		{name: "price per pod", filter: Price{}, options: func(t *testing.T) []Option {
			return []Option{option(t, grp("cheap-node-few-pods", 1, 4, 0), []int{100}), option(t, grp("dear-node-many-pods", 8, 10, 0), []int{100, 100, 100, 100})}
		}, want: []string{"dear-node-many-pods"}},
		{name: "priority", filter: Priority{}, options: func(t *testing.T) []Option {
			return []Option{option(t, grp("low", 1, 1, 1), []int{100}), option(t, grp("high", 1, 1, 5), []int{100})}
		}, want: []string{"high"}},
		{name: "least-nodes", filter: LeastNodes{}, options: func(t *testing.T) []Option {
			return []Option{option(t, grp("two", 1, 1, 0), []int{100}, []int{100}), option(t, grp("one", 2, 1, 0), []int{100, 100})}
		}, want: []string{"one"}},
		{name: "most-pods", filter: MostPods{}, options: func(t *testing.T) []Option {
			return []Option{option(t, grp("one-pod", 1, 1, 0), []int{100}), option(t, grp("two-pods", 2, 1, 0), []int{100, 100})}
		}, want: []string{"two-pods"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, names(tt.filter.BestOptions(tt.options(t))))
		})
	}
}

func TestFragmentationDisagreesWithLeastWaste(t *testing.T) {
	a := option(t, grp("strands", 2, 1, 0), []int{70})
	b := option(t, grp("clean", 2, 1, 0), []int{50})
	a.Pods = append(a.Pods, b.Pods...)
	assert.Equal(t, []string{"strands"}, names(LeastWaste{}.BestOptions([]Option{a, b})))
	assert.Equal(t, []string{"clean"}, names(Fragmentation{}.BestOptions([]Option{a, b})))
}

func TestChain(t *testing.T) {
	opts := []Option{option(t, grp("a", 1, 2, 1), []int{100}), option(t, grp("b", 1, 1, 1), []int{100}), option(t, grp("c", 1, 1, 1), []int{100})}
	c, err := NewChain([]string{"priority", "price"}, 1)
	require.NoError(t, err)
	got := c.BestOption(opts)
	require.NotNil(t, got)
	assert.Contains(t, []string{"b", "c"}, got.Group.Name, "random breaks the price tie")
	c2, err := NewChain([]string{"priority", "price"}, 1)
	require.NoError(t, err)
	assert.Equal(t, got.Group.Name, c2.BestOption(opts).Group.Name, "same seed, same choice")
	assert.Nil(t, c.BestOption(nil))

	_, err = NewChain([]string{"cheapest"}, 1)
	assert.ErrorContains(t, err, `unknown expander "cheapest"`)
	_, err = NewChain([]string{"price", "price"}, 1)
	assert.ErrorContains(t, err, `expander "price" listed twice`)
	rnd, err := NewChain([]string{"random"}, 3)
	require.NoError(t, err)
	assert.NotNil(t, rnd.BestOption(opts))
}
