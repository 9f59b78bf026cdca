#!/usr/bin/env bash
# gpu-check.sh: run Gantry's device discovery against the real GPUs of this
# machine and print what NVML reports, next to nvidia-smi's view; then, as
# root with nvcc and nvidia-cuda-mps-control, start the MPS daemon with the
# agent's own code (deviceplugin/mps) and check that a 25 % client
# allocating past its pinned memory limit is refused while another client
# keeps running (and whether UUID-keyed limits work). Needs the NVIDIA
# driver (libnvidia-ml.so.1). Under 5 minutes. Nothing in CI depends on it.
#
#   hack/gpu-check.sh                 # build, discover, print JSON, MPS check
#   OUT=/tmp/gpu-check hack/gpu-check.sh   # also keep the outputs there
#   MPS_CHECK=0 hack/gpu-check.sh     # discovery only
set -euo pipefail

cd "$(dirname "$0")/.."
out="${OUT:-$(mktemp -d)}"
mkdir -p "$out"

echo "== machine"
uname -a
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=index,uuid,name,memory.total,pci.bus_id,mig.mode.current --format=csv | tee "$out/nvidia-smi.csv"
  nvidia-smi topo -m | tee "$out/nvidia-smi-topo.txt" || true
else
  echo "nvidia-smi not found; NVML discovery will still be tried"
fi

# A GPU machine may have no Go toolchain: use a binary built beforehand
# (make build, carried as bin/) when there is one.
bin="${GANTRY_DEVICE_PLUGIN:-bin/gantry-device-plugin}"
if [ ! -x "$bin" ]; then
  echo "== build"
  CGO_CFLAGS="${CGO_CFLAGS:--Wno-deprecated-declarations}" go build -o "$out/gantry-device-plugin" ./cmd/gantry-device-plugin
  bin="$out/gantry-device-plugin"
fi

echo "== $bin discover (health checks are not started by discover)"
"$bin" discover --backends=nvml "$@" | tee "$out/discover.json"

echo "== checks"
command -v python3 >/dev/null || { echo "python3 not found; checks skipped"; exit 0; }
python3 - "$out/discover.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
inv = d["inventory"]["devices"] or []
print(f"{len(inv)} GPU(s) in the inventory")
for g in d.get("nvml") or []:
    note = f"  SKIPPED: {g['skipped']}" if g.get("skipped") else ""
    print(f"  [{g['index']}] {g['model']:<24} {g['memoryMiB']:>7} MiB  numa={g['numaNode']} ({g['numaSource']})"
          f"  link={g.get('linkGroup') or '-'}  mig={g['migEnabled']}  {g['uuid']}{note}")
ids = [x["id"] for x in inv]
assert len(ids) == len(set(ids)), "duplicate device IDs"
assert all(x["memoryMiB"] > 0 for x in inv), "a GPU reports no memory"
print("ok")
PY

echo "== MPS (deviceplugin/mps on GPU 0, hack/gpucheck/mpsprobe.cu as clients)"
if [ "${MPS_CHECK:-1}" = 0 ]; then
  echo "skipped (MPS_CHECK=0)"
elif [ "$(id -u)" != 0 ] || ! command -v nvcc >/dev/null || ! command -v nvidia-cuda-mps-control >/dev/null; then
  echo "skipped: needs root, nvcc and nvidia-cuda-mps-control"
else
  nvcc -O2 -o "$out/mpsprobe" hack/gpucheck/mpsprobe.cu
  # The test binary may be built beforehand where Go is (carried as bin/):
  #   go test -c -tags gpu -o bin/mps-gpu.test ./deviceplugin/mps
  test="${GANTRY_MPS_TEST:-bin/mps-gpu.test}"
  if [ ! -x "$test" ]; then
    CGO_CFLAGS="${CGO_CFLAGS:--Wno-deprecated-declarations}" go test -c -tags gpu -o "$out/mps-gpu.test" ./deviceplugin/mps
    test="$out/mps-gpu.test"
  fi
  GANTRY_MPS_PROBE="$out/mpsprobe" timeout 240 "$test" -test.run TestRealGPU -test.v 2>&1 | tee "$out/mps.txt"
  grep -E "FINDING|--- (PASS|FAIL)" "$out/mps.txt" || true
fi
echo "outputs in $out"
