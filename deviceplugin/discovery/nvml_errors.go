package discovery

import (
	"fmt"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// NVMLError is a failed NVML call. It unwraps to the nvml.Return, so callers
// can test errors.Is(err, nvml.ERROR_GPU_IS_LOST).
type NVMLError struct {
	// Call is the NVML function, e.g. "DeviceGetCount" or "GetUUID".
	Call string
	// Index is the device index, or -1 for calls not about one device.
	Index int
	Ret   nvml.Return
}

func (e *NVMLError) Error() string {
	if e.Index < 0 {
		return fmt.Sprintf("nvml %s: %s", e.Call, nvml.ErrorString(e.Ret))
	}
	return fmt.Sprintf("nvml device %d: %s: %s", e.Index, e.Call, nvml.ErrorString(e.Ret))
}

func (e *NVMLError) Unwrap() error { return e.Ret }

func nvmlErr(call string, index int, ret nvml.Return) error {
	if ret == nvml.SUCCESS {
		return nil
	}
	return &NVMLError{Call: call, Index: index, Ret: ret}
}

// unsupported reports whether ret means the call does not exist or does not
// apply to this device, as opposed to a failure.
func unsupported(ret nvml.Return) bool {
	return ret == nvml.ERROR_NOT_SUPPORTED || ret == nvml.ERROR_FUNCTION_NOT_FOUND
}
