package nvmltest

import (
	"fmt"
	"sync"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxa100"
	mockserver "github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"
)

// Server is a DGX A100 (8 × A100-SXM4-40GB, GPUs 0-3 on NUMA node 0 and 4-7
// on node 1, every GPU linked to the same six NVSwitches) with a scriptable
// event set.
type Server struct {
	*mockserver.Server

	events chan nvml.EventData

	mu      sync.Mutex
	lost    map[int]bool
	waitErr nvml.Return
	modes   map[int]nvml.ComputeMode
	ecc     map[int]uint64
}

// NewDGXA100 returns the server. UUIDs are fixed ("GPU-0000...-000i"), so
// slot IDs are stable across servers in one test.
func NewDGXA100() *Server {
	s := &Server{Server: dgxa100.New(), events: make(chan nvml.EventData, 64), lost: map[int]bool{}, modes: map[int]nvml.ComputeMode{}, ecc: map[int]uint64{}}
	for i, d := range s.Devices {
		s.setupDevice(i, d.(*mockserver.Device))
	}
	s.EventSetCreateFunc = func() (nvml.EventSet, nvml.Return) {
		return &mock.EventSet{
			WaitFunc: s.wait,
			FreeFunc: func() nvml.Return { return nvml.SUCCESS },
		}, nvml.SUCCESS
	}
	return s
}

// UUID returns the UUID of GPU i.
func UUID(i int) string { return fmt.Sprintf("GPU-00000000-0000-0000-0000-%012d", i) }

// BusID returns the PCI bus ID of GPU i as NVML spells it.
func BusID(i int) string { return fmt.Sprintf("00000000:%02X:00.0", 0x07+0x10*i) }

func switchBusID(sw int) string { return fmt.Sprintf("00000000:%02X:00.0", 0xC0+sw) }

// GPU returns the mock device of GPU i.
func (s *Server) GPU(i int) *mockserver.Device { return s.Devices[i].(*mockserver.Device) }

func (s *Server) setupDevice(i int, d *mockserver.Device) {
	d.UUID = UUID(i)
	d.PciBusID = BusID(i)
	d.GetPciInfoFunc = func() (nvml.PciInfo, nvml.Return) {
		var p nvml.PciInfo
		p.PciDeviceId = d.Config.PciDeviceId
		copy(p.BusId[:], toInt8(d.PciBusID))
		return p, nvml.SUCCESS
	}
	d.GetNameFunc = func() (string, nvml.Return) { return "NVIDIA A100-SXM4-40GB", nvml.SUCCESS }
	d.GetNumaNodeIdFunc = func() (int, nvml.Return) { return i / 4, nvml.SUCCESS }
	d.GetNvLinkStateFunc = func(link int) (nvml.EnableState, nvml.Return) {
		if link >= 12 {
			return nvml.FEATURE_DISABLED, nvml.ERROR_INVALID_ARGUMENT
		}
		return nvml.FEATURE_ENABLED, nvml.SUCCESS
	}
	d.GetNvLinkRemotePciInfoFunc = func(link int) (nvml.PciInfo, nvml.Return) {
		var p nvml.PciInfo
		copy(p.BusId[:], toInt8(switchBusID(link/2)))
		return p, nvml.SUCCESS
	}
	d.GetSupportedEventTypesFunc = func() (uint64, nvml.Return) {
		return nvml.EventTypeXidCriticalError | nvml.EventTypeDoubleBitEccError | nvml.EventTypeSingleBitEccError, nvml.SUCCESS
	}
	d.RegisterEventsFunc = func(uint64, nvml.EventSet) nvml.Return { return nvml.SUCCESS }
	d.GetTotalEccErrorsFunc = func(t nvml.MemoryErrorType, c nvml.EccCounterType) (uint64, nvml.Return) {
		if t != nvml.MEMORY_ERROR_TYPE_UNCORRECTED || c != nvml.VOLATILE_ECC {
			return 0, nvml.ERROR_NOT_SUPPORTED
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.ecc[i], nvml.SUCCESS
	}
	d.GetComputeModeFunc = func() (nvml.ComputeMode, nvml.Return) { return s.ComputeMode(i), nvml.SUCCESS }
	d.SetComputeModeFunc = func(m nvml.ComputeMode) nvml.Return {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.modes[i] = m
		return nvml.SUCCESS
	}
	d.GetMemoryInfoFunc = func() (nvml.Memory, nvml.Return) {
		if s.isLost(i) {
			return nvml.Memory{}, nvml.ERROR_GPU_IS_LOST
		}
		return d.MemoryInfo, nvml.SUCCESS
	}
}

// ComputeMode returns GPU i's compute mode (DEFAULT until set).
func (s *Server) ComputeMode(i int) nvml.ComputeMode {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.modes[i]
}

// SetVolatileECC sets GPU i's volatile uncorrected ECC count (a reset
// clears it to 0).
func (s *Server) SetVolatileECC(i int, n uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ecc[i] = n
}

// InjectXID delivers an XID critical-error event for GPU i.
func (s *Server) InjectXID(i int, xid uint64) {
	s.events <- nvml.EventData{Device: s.Devices[i], EventType: nvml.EventTypeXidCriticalError, EventData: xid, GpuInstanceId: 0xFFFFFFFF, ComputeInstanceId: 0xFFFFFFFF}
}

// InjectEvent delivers an arbitrary event.
func (s *Server) InjectEvent(ev nvml.EventData) { s.events <- ev }

// SetLost makes GPU i fail queries with ERROR_GPU_IS_LOST (or answer again).
func (s *Server) SetLost(i int, lost bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lost[i] = lost
}

// SetWaitError makes event waits fail with ret (SUCCESS restores them).
func (s *Server) SetWaitError(ret nvml.Return) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waitErr = ret
}

func (s *Server) isLost(i int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lost[i]
}

// wait returns a pushed event, or ERROR_TIMEOUT after at most 2 ms of real
// time, so that the watcher's recovery checks run often under a fake clock.
func (s *Server) wait(uint32) (nvml.EventData, nvml.Return) {
	s.mu.Lock()
	werr := s.waitErr
	s.mu.Unlock()
	if werr != nvml.SUCCESS {
		time.Sleep(time.Millisecond)
		return nvml.EventData{}, werr
	}
	select {
	case ev := <-s.events:
		return ev, nvml.SUCCESS
	case <-time.After(2 * time.Millisecond):
		return nvml.EventData{}, nvml.ERROR_TIMEOUT
	}
}

func toInt8(s string) []int8 {
	out := make([]int8, len(s))
	for i := range s {
		out[i] = int8(s[i])
	}
	return out
}
