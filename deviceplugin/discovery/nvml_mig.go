package discovery

import (
	"fmt"
	"strings"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/gantry-dev/gantry/core/device"
)

// MIGDetail is one MIG instance of a GPU in MIG mode, published as a device
// of its own (isolation mig). Creating or changing MIG layouts is not the
// agent's job: it publishes what it finds.
type MIGDetail struct {
	// Index is the instance's device index on the node (after every whole
	// GPU: count + parentIndex*maxInstances + slot).
	Index     int    `json:"index"`
	UUID      string `json:"uuid"`
	Profile   string `json:"profile"`
	Model     string `json:"model"`
	MemoryMiB int64  `json:"memoryMiB"`
}

// migProfile names an instance the way nvidia-smi does: "<g>g.<GB>gb",
// with "<c>c." in front when its compute instance holds fewer slices than
// its GPU instance.
func migProfile(a nvml.DeviceAttributes) string {
	gb := (int64(a.MemorySizeMB) + 1023) / 1024
	p := fmt.Sprintf("%dg.%dgb", a.GpuInstanceSliceCount, gb)
	if a.ComputeInstanceSliceCount > 0 && a.ComputeInstanceSliceCount < a.GpuInstanceSliceCount {
		p = fmt.Sprintf("%dc.%s", a.ComputeInstanceSliceCount, p)
	}
	return p
}

// migModel is the model a pod names to ask for an instance: the parent's
// family and the profile, e.g. "A100-1g.10gb".
func migModel(parentModel, profile string) string {
	family, _, _ := strings.Cut(parentModel, "-")
	m := family + "-" + profile
	if !device.ValidModel(m) {
		return ModelFromName(m)
	}
	return m
}

// migInstances lists the MIG instances of GPU i (handle h), numbering them
// from base.
func (n *NVML) migInstances(i int, h nvml.Device, parentModel string, base int) ([]MIGDetail, error) {
	max, ret := h.GetMaxMigDeviceCount()
	if ret != nvml.SUCCESS {
		return nil, nvmlErr("GetMaxMigDeviceCount", i, ret)
	}
	var out []MIGDetail
	for j := 0; j < max; j++ {
		m, ret := h.GetMigDeviceHandleByIndex(j)
		if ret == nvml.ERROR_NOT_FOUND || ret == nvml.ERROR_INVALID_ARGUMENT {
			continue // no instance in this slot
		}
		if ret != nvml.SUCCESS {
			return nil, nvmlErr(fmt.Sprintf("GetMigDeviceHandleByIndex(%d)", j), i, ret)
		}
		uuid, ret := m.GetUUID()
		if ret != nvml.SUCCESS {
			return nil, nvmlErr(fmt.Sprintf("MIG %d GetUUID", j), i, ret)
		}
		attrs, ret := m.GetAttributes()
		if ret != nvml.SUCCESS {
			return nil, nvmlErr(fmt.Sprintf("MIG %d GetAttributes", j), i, ret)
		}
		p := migProfile(attrs)
		out = append(out, MIGDetail{Index: base + i*max + j, UUID: uuid, Profile: p, Model: migModel(parentModel, p), MemoryMiB: int64(attrs.MemorySizeMB)})
	}
	return out, nil
}

// publishedIDs returns the device IDs GPU uuid is published as: its MIG
// instances when it is in MIG mode, else itself.
func (n *NVML) publishedIDs(uuid string) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, d := range n.details {
		if d.UUID == uuid && d.MIGEnabled {
			ids := make([]string, len(d.MIG))
			for i, m := range d.MIG {
				ids[i] = m.UUID
			}
			return ids
		}
	}
	return []string{uuid}
}
