# Gantry: share and autoscale heterogeneous accelerators on Kubernetes.
#
#   make demo     replay the shipped Alibaba trace through the real scheduler
#                 plugin and write the report (the main job)
#   make test     build everything the tests need and run every test
#   make verify   gofmt, go vet and the project's own import rules
#   make bench    Go benchmarks (results are recorded in bench/README.md)
#   make images   an OCI image archive per component in out/images (no
#                 Docker engine, no registry pull)
#   make playground       a local cluster (control plane, KWOK, scheduler,
#                         autoscaler) until Ctrl-C or make playground-down

GO      ?= go
BIN     := $(CURDIR)/bin
export GOFLAGS ?= -buildvcs=false

COMMANDS := $(notdir $(wildcard cmd/*))

# VERSION is the release every binary reports (--version) and every image
# is tagged with; the manifests and the chart reference the same tag.
VERSION  ?= $(shell cat VERSION)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -X github.com/gantry-dev/gantry/internal/version.version=$(VERSION) \
            -X github.com/gantry-dev/gantry/internal/version.revision=$(REVISION)

.PHONY: all build tools test unit integration verify bench demo images playground playground-down clean FORCE

all: build

build: $(addprefix $(BIN)/,$(COMMANDS))

$(BIN)/%: FORCE
	$(GO) build -ldflags '$(LDFLAGS)' -o $@ ./cmd/$*

FORCE:

# etcd, kube-apiserver and kwok, built from Go modules (no downloads of
# prebuilt binaries).
tools:
	hack/build-test-tools.sh

# Unit and framework-level tests first (packages in parallel, under the
# race detector; bench/ replays whole traces to pin the reference's
# published results, which the race detector would slow tenfold, so it runs
# without it: the code it drives is raced in simulator/ and scheduler/),
# then every fuzz target for FUZZTIME (hack/fuzz.sh), then
# the tests that start real control planes, kubelet's device manager or
# KWOK, one package at a time so their timeouts never race a parallel build.
INTEGRATION := ./test/... ./deviceplugin/handofftest/...
FUZZTIME    ?= 10s

test: build tools
	$(GO) test -race -count=1 -timeout 40m $$($(GO) list ./... | grep -v -e /gantry/test/ -e /deviceplugin/handofftest -e /gantry/bench)
	$(GO) test -count=1 -timeout 40m ./bench/...
	FUZZTIME=$(FUZZTIME) GO=$(GO) hack/fuzz.sh
	$(GO) test -count=1 -timeout 40m -p 1 $(INTEGRATION)

# Every fuzz target for FUZZTIME (make fuzz FUZZTIME=5m for a longer run).
fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) hack/fuzz.sh

unit:
	$(GO) test -count=1 $$($(GO) list ./... | grep -v -e /gantry/test/ -e /deviceplugin/handofftest)

integration: build tools
	$(GO) test -count=1 -timeout 40m -p 1 $(INTEGRATION)

verify:
	hack/verify.sh

# Each benchmark compares Gantry with a baseline in the same run; results
# and the exact commands are recorded in bench/README.md.
bench: build tools
	$(GO) test -run '^$$' -bench FilterScore -benchmem -benchtime 20x ./bench/
	$(GO) test -run '^$$' -bench Inflation -benchtime 1x ./bench/
	$(GO) test -run '^$$' -bench InflationModes -benchtime 1x ./bench/dra/
	$(GO) test -run '^$$' -bench RunOnce -benchtime 5x ./autoscaler/core/
	$(GO) test -run '^$$' -bench . -benchmem ./deviceplugin/server/ ./core/policy/
	$(GO) test -run '^$$' -bench SchedulerThroughput -benchtime 1x ./test/integration/

# Images: static binaries (CGO_ENABLED=0) on an empty base; the agent
# (cgo: go-nvml) on glibc assembled from Debian packages. See build/image.
IMAGE_DIR  ?= $(CURDIR)/out/images
IMAGE_REPO ?= ghcr.io/gantry-dev
IMAGES     := $(filter gantry-scheduler gantry-autoscaler gantry-webhook gantry-sim gantry-device-plugin,$(COMMANDS))
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)

images:
	@mkdir -p $(IMAGE_DIR)/bin
	for c in $(filter-out gantry-device-plugin,$(IMAGES)); do \
		CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o $(IMAGE_DIR)/bin/$$c ./cmd/$$c || exit 1; done
	CGO_ENABLED=1 $(GO) build -ldflags '$(LDFLAGS)' -o $(IMAGE_DIR)/bin/gantry-device-plugin ./cmd/gantry-device-plugin
	hack/agent-base.sh $(IMAGE_DIR)/agent-base
	$(GO) run ./hack/build-images --bin $(IMAGE_DIR)/bin --out $(IMAGE_DIR) --repo $(IMAGE_REPO) \
		--version $(VERSION) --revision $(REVISION) --source-date-epoch $(SOURCE_DATE_EPOCH) \
		--glibc-base $(IMAGE_DIR)/agent-base/rootfs $(IMAGES)

PLAYGROUND_DIR ?= $(CURDIR)/out/playground

playground: build tools
	$(GO) build -o $(BIN)/gantry-playground ./hack/playground
	$(BIN)/gantry-playground --dir $(PLAYGROUND_DIR)

# Signals the running playground and waits until it has cleaned up.
playground-down:
	@pid=$$(cat $(PLAYGROUND_DIR)/pid 2>/dev/null) || { echo "no playground is running"; exit 0; }; \
	kill -TERM $$pid 2>/dev/null || exit 0; \
	while kill -0 $$pid 2>/dev/null; do sleep 0.2; done; echo "playground stopped"

demo: $(BIN)/gantry-sim
	$(BIN)/gantry-sim run --out out/demo

clean:
	rm -rf $(BIN) out
