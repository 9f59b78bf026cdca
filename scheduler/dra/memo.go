package dra

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/gantry-dev/gantry/core/device"
	coredra "github.com/gantry-dev/gantry/core/dra"
	"github.com/gantry-dev/gantry/core/share"
	"github.com/gantry-dev/gantry/core/state"
)

// ranked is one node's ranking for one request shape.
type ranked struct {
	order []string
	score int64
	fits  bool
}

// rankMemo remembers rankings by node content and request shape: in a burst
// of pods only the node that took the last one is ranked again. A node's
// content is what a strategy reads of it (each card's use, holders and health, the
// host resources left), so a hit is exactly what ranking again would give.
type rankMemo struct {
	enabled bool
	mu      sync.Mutex
	entries map[string]ranked
}

// memoLimit bounds the memo; it is emptied when full.
const memoLimit = 1 << 17

func newRankMemo(enabled bool) *rankMemo {
	return &rankMemo{enabled: enabled, entries: map[string]ranked{}}
}

func (m *rankMemo) get(reqKey string, n *coredra.Node, st *state.NodeState, compute func() ranked) ranked {
	if !m.enabled {
		return compute()
	}
	k := nodeKey(n, st) + "|" + reqKey
	m.mu.Lock()
	r, ok := m.entries[k]
	m.mu.Unlock()
	if ok {
		return r
	}
	r = compute()
	m.mu.Lock()
	if len(m.entries) >= memoLimit {
		m.entries = map[string]ranked{}
	}
	m.entries[k] = r
	m.mu.Unlock()
	return r
}

func nodeKey(n *coredra.Node, st *state.NodeState) string {
	var b strings.Builder
	b.WriteString(st.Name)
	fmt.Fprintf(&b, "/%s/%d/%d/%d", st.Zone, st.CPUAllocMilli, st.CPUFreeMilli, st.MemoryFreeMiB)
	for i, d := range st.Devices {
		b.WriteByte('/')
		b.WriteString(n.DeviceName(i))
		b.WriteByte('=')
		b.WriteString(strconv.Itoa(d.Used))
		b.WriteByte('x')
		b.WriteString(strconv.Itoa(d.Holders))
		if !d.Healthy() {
			b.WriteByte('!')
		}
	}
	return b.String()
}

// requestKey identifies what a strategy reads of a request.
func requestKey(r *share.Request) string {
	var b strings.Builder
	for _, p := range r.Parts {
		fmt.Fprintf(&b, "%s:%dx%d,", p.Kind, p.Count, p.Units)
	}
	kinds := make([]string, 0, len(r.Models))
	for k := range r.Models {
		kinds = append(kinds, string(k))
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(&b, "%s=%s;", k, strings.Join(r.Models[device.Kind(k)], "|"))
	}
	fmt.Fprintf(&b, "/%d/%d/%s/%t/%s", r.CPUMilli, r.MemoryMiB, r.Workload, r.AllowSharedDevice, r.Isolation)
	return b.String()
}
