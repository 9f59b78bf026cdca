package mps

import (
	"errors"
	"fmt"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// setExclusive puts every card in EXCLUSIVE_PROCESS mode and remembers the
// mode it had; on an error it restores the cards already changed.
func (d *Daemon) setExclusive() error {
	for _, c := range d.cards {
		h, ret := d.lib.DeviceGetHandleByUUID(c.ID)
		if ret != nvml.SUCCESS {
			return errors.Join(fmt.Errorf("GPU %s: DeviceGetHandleByUUID: %v", c.ID, nvml.ErrorString(ret)), d.restoreModes())
		}
		mode, ret := h.GetComputeMode()
		if ret != nvml.SUCCESS {
			return errors.Join(fmt.Errorf("GPU %s: GetComputeMode: %v", c.ID, nvml.ErrorString(ret)), d.restoreModes())
		}
		if mode != nvml.COMPUTEMODE_EXCLUSIVE_PROCESS {
			if ret := h.SetComputeMode(nvml.COMPUTEMODE_EXCLUSIVE_PROCESS); ret != nvml.SUCCESS {
				return errors.Join(fmt.Errorf("GPU %s: SetComputeMode(EXCLUSIVE_PROCESS): %v", c.ID, nvml.ErrorString(ret)), d.restoreModes())
			}
		}
		d.saved = append(d.saved, savedMode{uuid: c.ID, mode: mode})
	}
	return nil
}

// restoreModes puts back every compute mode setExclusive changed.
func (d *Daemon) restoreModes() error {
	var errs []error
	for _, s := range d.saved {
		h, ret := d.lib.DeviceGetHandleByUUID(s.uuid)
		if ret == nvml.SUCCESS {
			ret = h.SetComputeMode(s.mode)
		}
		if ret != nvml.SUCCESS {
			errs = append(errs, fmt.Errorf("GPU %s: restoring compute mode %d: %v", s.uuid, s.mode, nvml.ErrorString(ret)))
		}
	}
	d.saved = nil
	return errors.Join(errs...)
}

type savedMode struct {
	uuid string
	mode nvml.ComputeMode
}
