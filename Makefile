# ipkeeper — run `make help` for the targets a newcomer needs.

SHELL := /usr/bin/env bash -o pipefail
.DEFAULT_GOAL := help

# Tool versions: the one place they are pinned. The Kubernetes control plane of
# the local cluster is pinned in hack/tools/k8s/go.mod.
CONTROLLER_GEN_VERSION ?= v0.23.0
GOLANGCI_LINT_VERSION  ?= v2.15.0

BIN := $(CURDIR)/bin
CHART := charts/ipkeeper
comma := ,
CONTROLLER_GEN := $(BIN)/controller-gen-$(CONTROLLER_GEN_VERSION)
GOLANGCI_LINT  := $(BIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
# promtool and the PromQL parser: pinned in hack/tools/prometheus/go.mod.
PROMETHEUS_VERSION := $(shell awk '$$1 == "github.com/prometheus/prometheus" {print $$2}' hack/tools/prometheus/go.mod)
# Cached by version outside the checkout (hack/build-promtool.sh), as helm is.
PROMTOOL       := $(or $(IPKEEPER_CACHE),$(HOME)/.cache/ipkeeper)/promtool-$(PROMETHEUS_VERSION)/promtool

FUZZTIME ?= 10s
TEST_FUZZTIME ?= 1000x
ROUNDS   ?= 1

# Images: what they are stamped with. The version is the tag; the commit time
# is every file's and the config's time, so one commit gives one digest.
VERSION           ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION          ?= $(shell git rev-parse HEAD 2>/dev/null)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
IMAGE_REPO        ?= ghcr.io/ipkeeper
IMAGE_PLATFORMS   ?= linux/amd64 linux/arm64
# The binaries in images, cross-compiled into $(LINUX_BIN)/<os>-<arch>/.
IMAGE_BINARIES := ipkeeper-agent ipkeeper-controller ipkeeper-cni-installer spiderpool coordinator
# The local cluster's stand-ins for the sandbox and the seeds' nginx image
# (test/images), imported into real nodes, never shipped.
STANDIN_BINARIES := pause webserver
LINUX_BIN      ?= $(BIN)
# Release builds: static, no paths, no build IDs, no VCS stamp (it would tell a
# dirty tree from a clean one in the bytes); the image labels carry the commit,
# and ipkeeper_build_info the version and commit stamped with -X (the same
# VERSION and REVISION as the labels, so one commit still gives one digest).
RELEASE_LDFLAGS ?= -s -w -buildid=
BUILDINFO       := github.com/ipkeeper/ipkeeper/internal/buildinfo
VERSION_LDFLAGS := -X $(BUILDINFO).version=$(VERSION) -X $(BUILDINFO).revision=$(REVISION)
RELEASE_FLAGS   := -trimpath -buildvcs=false -ldflags "$(RELEASE_LDFLAGS) $(VERSION_LDFLAGS)"

##@ Using ipkeeper

# make up's nodes: real (kubelet, containerd, kube-proxy, Multus; ipkeeper from
# its chart) by default; REAL_NODES=0 for the node simulator.
REAL_NODES ?= 1

.PHONY: up
up: build ## Start the local cluster (control plane + 2 real nodes + ipkeeper from its chart); NODES=N, REAL_NODES=0 for simulated nodes.
	REAL_NODES=$(filter-out 0,$(REAL_NODES)) hack/local-cluster/up.sh

.PHONY: down
down: ## Stop the local cluster and remove everything it made.
	hack/local-cluster/down.sh

##@ Development

.PHONY: build
build: ## Build every binary into bin/ (the CNI plugins and their installer statically linked).
	go build -ldflags "$(VERSION_LDFLAGS)" -o $(BIN)/ ./cmd/...
	CGO_ENABLED=0 go build -o $(BIN)/ ./cmd/spiderpool ./cmd/coordinator ./cmd/ipkeeper-cni-installer

.PHONY: build-linux
build-linux: ## Cross-compile the image binaries (and the local cluster's pause and nginx stand-ins), static, into bin/<os>-<arch>/ (IMAGE_PLATFORMS).
	@for p in $(IMAGE_PLATFORMS); do \
		echo ">> $$p"; \
		CGO_ENABLED=0 GOOS=$${p%/*} GOARCH=$${p#*/} go build $(RELEASE_FLAGS) \
			-o $(LINUX_BIN)/$${p%/*}-$${p#*/}/ $(addprefix ./cmd/,$(IMAGE_BINARIES)) || exit 1; \
		CGO_ENABLED=0 GOOS=$${p%/*} GOARCH=$${p#*/} go build $(RELEASE_FLAGS) \
			-o $(LINUX_BIN)/$${p%/*}-$${p#*/}/ $(addprefix ./test/images/,$(STANDIN_BINARIES)) || exit 1; \
	done

.PHONY: images
images: build-linux ## Write the images (OCI layout and per-arch docker-archives) into bin/images/ without a container engine.
	cd hack/tools/images && go run . -bin $(LINUX_BIN) -out $(BIN)/images \
		-platforms "$(subst $() ,$(comma),$(strip $(IMAGE_PLATFORMS)))" -repo $(IMAGE_REPO) \
		-version $(VERSION) -revision "$(REVISION)" -source-date-epoch "$(SOURCE_DATE_EPOCH)"

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy code, CRDs and RBAC from markers, and the chart's copies of them.
	$(CONTROLLER_GEN) object paths=./api/...
	$(CONTROLLER_GEN) crd:crdVersions=v1 paths=./api/... output:crd:artifacts:config=config/crd/bases
	$(CONTROLLER_GEN) rbac:roleName=ipkeeper-agent paths=./internal/agent/... output:rbac:artifacts:config=config/rbac/agent
	$(CONTROLLER_GEN) rbac:roleName=ipkeeper-controller paths="./internal/controller/...;./internal/webhook/..." output:rbac:artifacts:config=config/rbac/controller
	@# The chart ships these unchanged; Multus installs the NetworkAttachmentDefinition CRD.
	rm -rf $(CHART)/crds $(CHART)/files/rbac
	mkdir -p $(CHART)/crds $(CHART)/files/rbac
	cp -R config/rbac/agent config/rbac/controller $(CHART)/files/rbac/
	cp config/crd/bases/*.yaml $(CHART)/crds/
	rm $(CHART)/crds/k8s.cni.cncf.io_network-attachment-definitions.yaml

GENERATED := api config $(CHART)

.PHONY: verify-generate
verify-generate: generate ## Fail when generated files differ from what is committed.
	@git diff --exit-code -- $(GENERATED) || { echo "generated files are stale: run 'make generate' and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- $(GENERATED))" || { git status --porcelain -- $(GENERATED); echo "generated files are not committed"; exit 1; }

.PHONY: vet
vet: ## Run go vet on every build configuration.
	go vet ./...
	go vet -tags integration,e2e ./...

.PHONY: lint
lint: $(GOLANGCI_LINT) ## Run golangci-lint (config: .golangci.yml).
	$(GOLANGCI_LINT) run --allow-parallel-runners ./...

##@ Testing

.PHONY: test
test: verify-generate vet lint test-unit test-fuzz test-monitoring test-images test-integration test-e2e test-chaos ## Everything CI runs.

.PHONY: test-unit
test-unit: ## Unit tests (pure logic, seconds).
	go test -race -count=1 ./...

.PHONY: test-monitoring
test-monitoring: $(PROMTOOL) $(GOLANGCI_LINT) ## The chart's alert rules (promtool check and unit tests) and dashboard (every expression parses).
	$(PROMTOOL) check rules $(CHART)/files/alerts/ipkeeper.rules.yaml
	$(PROMTOOL) test rules test/chart/testdata/alerts_test.yaml
	cd hack/tools/prometheus && go vet ./... && $(GOLANGCI_LINT) run --allow-parallel-runners --config $(CURDIR)/.golangci.yml ./...
	cd hack/tools/prometheus && go test -count=1 ./...

.PHONY: test-images
test-images: $(GOLANGCI_LINT) ## The image builder's lint and tests: reproducible digests and binaries, import into containerd (root).
	cd hack/tools/images && go vet ./... && $(GOLANGCI_LINT) run --allow-parallel-runners --config $(CURDIR)/.golangci.yml ./...
	cd hack/tools/images && go test -count=1 -timeout 30m ./...

.PHONY: test-integration
test-integration: ## Integration tests against a real kube-apiserver and etcd.
	go test -count=1 -timeout 20m -tags integration -run Integration ./...

.PHONY: test-e2e
test-e2e: build ## End-to-end tests on a local cluster (root: network namespaces), the Helm chart, and real nodes.
	go test -count=1 -timeout 30m -tags e2e ./test/cni/... ./test/e2e/... ./test/chart/... ./test/realnodes/...

CHAOS_ALLOCATIONS ?= 100000

.PHONY: test-chaos
test-chaos: build ## The short chaos run: 5,000 allocations of churn while every kind of process is killed once or more (root; simulated nodes and the kubelet stream; about 8 minutes here).
	go test -count=1 -timeout 40m -tags e2e ./test/chaos -run TestChaos -v

.PHONY: chaos
chaos: ## The chaos run of issue 13: CHAOS_ALLOCATIONS (100,000) allocations under kills; writes docs/reliability.md (root; up to an hour).
	go test -count=1 -timeout 75m -tags e2e ./test/chaos -run TestChaos -v \
		-chaos.allocations=$(CHAOS_ALLOCATIONS) -chaos.report=$(CURDIR)/docs/reliability.md

.PHONY: fuzz
fuzz: ## Run every fuzz target of the module (found by name, func FuzzXxx in a _test.go) for FUZZTIME (default 10s).
	@go list -f '{{.ImportPath}} {{.Dir}}' ./... | while read -r pkg dir; do \
		for f in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$dir/*_test.go 2>/dev/null); do \
			echo ">> $$pkg $$f"; go test $$pkg -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) || exit 1; \
		done; \
	done

.PHONY: test-fuzz
test-fuzz: ## Every fuzz target briefly (TEST_FUZZTIME=1000x: a count of inputs, as a short time can end before the fuzzer starts on a loaded machine), as part of make test.
	$(MAKE) fuzz FUZZTIME=$(TEST_FUZZTIME)

.PHONY: bench-core
bench-core: ## Benchmarks of the pure address core.
	go test -run '^$$' -bench . -benchmem ./internal/ipnet/

.PHONY: bench
bench: ## Scale run: 100 Deployments x 10 on 10 nodes, ipkeeper then host-local (root; ~4 min per round, ROUNDS=2 alternates the order).
	go run ./test/bench -nodes 10 -deployments 100 -replicas 10 -rounds $(ROUNDS)

.PHONY: bench-quick
bench-quick: ## The scale run with 2 nodes and 10 x 10 pods (root; about a minute per round).
	go run ./test/bench -nodes 2 -deployments 10 -replicas 10 -rounds $(ROUNDS)

.PHONY: bench-ipam
bench-ipam: ## IPAM path: the plugin called as a kubelet would for 1000 bare pods on 10 nodes, 5 calls per node, against host-local on the same cluster, ABBA (root; a few minutes).
	go run ./test/bench -ipam-path -nodes $(or $(NODES),10) -pods $(or $(PODS),1000) -concurrency $(or $(CONCURRENCY),5) -rounds 2

.PHONY: bench-real
bench-real: ## The scale run on 2 real nodes (kubelet, containerd, Multus; ipkeeper from its chart) with 10 x 10 pods, host-local on the same kind of nodes (root; a few minutes per round).
	go run ./test/bench -real-nodes -nodes 2 -deployments 10 -replicas 10 -rounds $(ROUNDS) -out test/bench/results/real-nodes

##@ Tools

$(CONTROLLER_GEN):
	GOBIN=$(BIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)
	mv $(BIN)/controller-gen $@

$(GOLANGCI_LINT):
	GOBIN=$(BIN) go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(BIN)/golangci-lint $@

$(PROMTOOL):
	hack/build-promtool.sh >/dev/null

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z0-9_-]+:.*##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)
