#!/usr/bin/env bash
# verify.sh is what `make verify` runs before every commit: formatting, vet,
# and the project's import rules (core stays pure; the device plugin sees
# only core's inventory and contract; nothing imports the simulator).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

fail=0
unformatted="$(gofmt -l $(git ls-files '*.go'))"
if [ -n "$unformatted" ]; then
	echo "gofmt needed on:"; echo "$unformatted"; fail=1
fi

go vet ./...

mod="$(go list -m)"
# core: no clients, no logging, no hardware, no clock.
bad="$(go list -deps ./core/... | grep -E '^(k8s.io/client-go|github.com/NVIDIA/go-nvml|k8s.io/kubernetes)(/|$)' || true)"
if [ -n "$bad" ]; then echo "core must stay pure; it reaches:"; echo "$bad"; fail=1; fi
bad="$(go list -f '{{.ImportPath}}: {{join .Imports " "}}' ./core/... | grep -E ' (k8s.io/klog|log|log/slog)(/| |$)' || true)"
if [ -n "$bad" ]; then echo "core must not log:"; echo "$bad"; fail=1; fi
if grep -rn --include='*.go' -E 'time\.Now\(|time\.Since\(' core | grep -v '_test.go'; then
	echo "core must not read the clock"; fail=1
fi
# the device plugin imports only core/device, core/contract and core/share of
# ours, internal/version for --version and internal/configfile for its
# configuration file.
if [ -d deviceplugin ]; then
	bad="$(go list -deps ./deviceplugin/... ./cmd/gantry-device-plugin/... 2>/dev/null | grep "^$mod/" | grep -vE "^$mod/(deviceplugin|cmd/gantry-device-plugin|core/(device|contract|share)|internal/(version|configfile))(/|$)" || true)"
	if [ -n "$bad" ]; then echo "deviceplugin may import only core/{device,contract,share} and internal/{version,configfile}; it reaches:"; echo "$bad"; fail=1; fi
fi
# nothing imports the simulator.
importers="$(go list -f '{{.ImportPath}} {{join .Imports " "}}' ./... | awk -v sim="$mod/simulator" '$1 !~ "^"sim && $1 !~ "/cmd/gantry-sim" && $1 !~ "/bench" { for (i = 2; i <= NF; i++) if (index($i, sim) == 1) print $1 }')"
if [ -n "$importers" ]; then echo "nothing may import the simulator; these do:"; echo "$importers"; fail=1; fi

exit $fail
