package discovery

import "fmt"

// DefaultIgnoredXIDs are XIDs that do not make a GPU unhealthy. They report a
// fault of one application (its own bad memory access, a kernel it let time
// out, a context it lost), not of the device, and the GPU keeps serving other
// containers. This is the list NVIDIA's own device plugin ignores:
//
//	13  Graphics Engine Exception (usually an out-of-bounds access by the app)
//	31  GPU memory page fault (the app touched memory it does not own)
//	43  GPU stopped processing (the app's context was reset)
//	45  Preemptive cleanup, after a previous error or a killed process
//	68  NVDEC0 exception (video decoder, the app's stream)
//	109 Context switch timeout (one app's kernel would not yield)
//
// Every other XID, and every double-bit ECC event, marks the GPU Unhealthy.
// Add to the list with WithIgnoredXIDs (flag --ignore-xids) when a fleet's
// experience says an XID is benign there.
var DefaultIgnoredXIDs = []uint64{13, 31, 43, 45, 68, 109}

// ResetXIDs are XIDs after which a GPU is not to be trusted until it has
// been reset (nvidia-smi -r, or a reboot):
//
//	48 double-bit ECC error
//	79 GPU has fallen off the bus
//	94 contained ECC error
//	95 uncontained ECC error
//
// With them, and with a double-bit ECC event, the GPU stays Unhealthy until
// there is evidence of a reset (see the health watch), however long it stays
// quiet. Other critical XIDs recover after the quiet window.
var ResetXIDs = []uint64{48, 79, 94, 95}

var xidNames = map[uint64]string{
	13:  "graphics engine exception",
	31:  "GPU memory page fault",
	43:  "GPU stopped processing",
	45:  "preemptive cleanup",
	48:  "double-bit ECC error",
	61:  "internal micro-controller breakpoint",
	62:  "internal micro-controller halt",
	63:  "ECC page retirement or row remapping recorded",
	64:  "ECC page retirement or row remapping failure",
	68:  "NVDEC0 exception",
	74:  "NVLink error",
	79:  "GPU has fallen off the bus",
	92:  "high single-bit ECC error rate",
	94:  "contained ECC error",
	95:  "uncontained ECC error",
	109: "context switch timeout",
	119: "GSP RPC timeout",
	120: "GSP error",
}

// XIDReason describes an XID for events and logs, e.g. "XID 79 (GPU has
// fallen off the bus)".
func XIDReason(xid uint64) string {
	if name, ok := xidNames[xid]; ok {
		return fmt.Sprintf("XID %d (%s)", xid, name)
	}
	return fmt.Sprintf("XID %d", xid)
}
