package discovery

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/gantry-dev/gantry/core/device"
)

// numaNode asks NVML first (nvmlDeviceGetNumaNodeId, missing from older
// drivers) and falls back to the PCI device's numa_node in sysfs.
func (n *NVML) numaNode(h nvml.Device, bus string) (int, string) {
	if id, ret := h.GetNumaNodeId(); ret == nvml.SUCCESS && id >= 0 {
		return id, "nvml"
	}
	if bus == "" {
		return device.NoNUMA, "unknown"
	}
	id, err := readNUMANode(n.sysfsRoot, bus)
	if err != nil || id < 0 {
		return device.NoNUMA, "unknown"
	}
	return id, "sysfs"
}

func readNUMANode(sysfsRoot, bus string) (int, error) {
	b, err := os.ReadFile(filepath.Join(sysfsRoot, "bus", "pci", "devices", bus, "numa_node"))
	if err != nil {
		return device.NoNUMA, fmt.Errorf("reading numa_node of %s: %w", bus, err)
	}
	id, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return device.NoNUMA, fmt.Errorf("parsing numa_node of %s: %w", bus, err)
	}
	return id, nil
}

// nvlinkPeers returns the PCI bus IDs at the far end of each active NVLink.
// Links that do not exist or are down are skipped.
func nvlinkPeers(h nvml.Device) []string {
	seen := map[string]bool{}
	var out []string
	for link := 0; link < nvml.NVLINK_MAX_LINKS; link++ {
		state, ret := h.GetNvLinkState(link)
		if ret != nvml.SUCCESS || state != nvml.FEATURE_ENABLED {
			continue
		}
		pci, ret := h.GetNvLinkRemotePciInfo(link)
		if ret != nvml.SUCCESS {
			continue
		}
		if id := busID(pci.BusId[:]); id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// linkGroups puts GPUs joined by NVLink, directly or through a shared NVSwitch,
// in one group named after its lowest GPU index ("nvlink-0"). A GPU with no
// peer gets no group.
func linkGroups(details []GPUDetail) {
	parent := map[string]string{}
	var find func(string) string
	find = func(x string) string {
		if parent[x] == "" || parent[x] == x {
			parent[x] = x
			return x
		}
		parent[x] = find(parent[x])
		return parent[x]
	}
	union := func(a, b string) { parent[find(a)] = find(b) }

	key := func(d GPUDetail) string { return "gpu:" + strconv.Itoa(d.Index) }
	byBus := map[string]string{}
	for _, d := range details {
		if d.PCIBusID != "" {
			byBus[d.PCIBusID] = key(d)
		}
	}
	for _, d := range details {
		for _, peer := range d.NVLinkPeers {
			if k, ok := byBus[peer]; ok {
				union(key(d), k)
			} else {
				union(key(d), "switch:"+peer)
			}
		}
	}
	members := map[string][]int{}
	for _, d := range details {
		if len(d.NVLinkPeers) > 0 && d.Skipped == "" {
			r := find(key(d))
			members[r] = append(members[r], d.Index)
		}
	}
	for i := range details {
		d := &details[i]
		if len(d.NVLinkPeers) == 0 || d.Skipped != "" {
			continue
		}
		m := members[find(key(*d))]
		if len(m) < 2 {
			continue
		}
		sort.Ints(m)
		d.LinkGroup = "nvlink-" + strconv.Itoa(m[0])
	}
}
