package share_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/share"
)

func TestRequestHelpers(t *testing.T) {
	req := &share.Request{
		Parts: []share.Part{
			{Container: "a", Kind: device.NPU, Count: 1, Units: 30},
			{Container: "b", Kind: device.GPU, Count: 2, Units: 100},
			{Container: "c", Kind: device.GPU, Count: 1, Units: 40},
		},
		Models: map[device.Kind][]string{device.GPU: {"T4", "A10"}},
	}
	assert.False(t, req.Empty())
	assert.True(t, (*share.Request)(nil).Empty())
	assert.True(t, (&share.Request{}).Empty())
	assert.Equal(t, 240, req.Total(device.GPU))
	assert.Equal(t, 30, req.Total(device.NPU))
	assert.Equal(t, []device.Kind{device.GPU, device.NPU}, req.Kinds())
	assert.True(t, req.Allows(device.GPU, "A10"))
	assert.False(t, req.Allows(device.GPU, "A100"))
	assert.True(t, req.Allows(device.NPU, "anything"), "a kind without a list accepts every model")
	assert.True(t, req.Parts[1].Whole())
	assert.False(t, req.Parts[2].Whole())

	s := share.Simple(device.GPU, 4, 100)
	assert.Equal(t, []share.Part{{Container: "main", Kind: device.GPU, Count: 4, Units: 100}}, s.Parts)
}
