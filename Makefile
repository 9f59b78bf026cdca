# Gantry: share and autoscale heterogeneous accelerators on Kubernetes.
#
#   make demo     replay the shipped Alibaba trace through the real scheduler
#                 plugin and write the report (the main job)
#   make test     build everything the tests need and run every test
#   make verify   gofmt, go vet and the project's own import rules
#   make bench    Go benchmarks (results are recorded in bench/README.md)

GO      ?= go
BIN     := $(CURDIR)/bin
export GOFLAGS ?= -buildvcs=false

COMMANDS := $(notdir $(wildcard cmd/*))

.PHONY: all build tools test unit integration verify bench demo clean

all: build

build: $(addprefix $(BIN)/,$(COMMANDS))

$(BIN)/%: FORCE
	$(GO) build -o $@ ./cmd/$*

FORCE:

# etcd, kube-apiserver and kwok, built from Go modules (no downloads of
# prebuilt binaries).
tools:
	hack/build-test-tools.sh

test: build tools
	$(GO) test -count=1 -timeout 80m ./...

unit:
	$(GO) test -count=1 -short ./core/... ./scheduler/... ./simulator/... ./autoscaler/... ./deviceplugin/...

verify:
	hack/verify.sh

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./bench/...

demo: $(BIN)/gantry-sim
	$(BIN)/gantry-sim run --out out/demo

clean:
	rm -rf $(BIN) out
