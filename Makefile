# firedrill. `make help` lists the targets.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Go from its usual place when it is not on PATH yet.
export PATH := $(PATH):/usr/local/go/bin

# testcontainers here: no reaper image can be pulled (firedrill reaps by
# itself), and mapped ports live on 127.0.0.1, not on the default gateway.
export TESTCONTAINERS_RYUK_DISABLED ?= true
export TESTCONTAINERS_HOST_OVERRIDE ?= 127.0.0.1

# Packages one at a time: drills measure time, and on 2 cores another
# package's containers would make their figures noisy.
TESTFLAGS ?= -p 1
TEST_TIMEOUT ?= 25m
TEST_PKGS ?= ./...
# The drill suite `make drill` runs, and where its report goes.
DRILL_PKGS ?= ./drills/
DRILL_RUN ?= ^TestDrill
DRILL_FLAGS ?=
REPORT_DIR ?= $(CURDIR)/out/report
BENCH ?= .
BENCH_PKGS ?= ./...

.PHONY: help
help: ## list the targets
	@awk 'BEGIN { FS = ":.*## " } /^[a-z-]+:.*## / { printf "  make %-12s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

.PHONY: docker
docker: ## make sure a Docker daemon answers (installs/starts one as root)
	@scripts/docker.sh

.PHONY: images
images: docker ## build every image locally (cached by content; see scripts/images.sh)
	@scripts/images.sh

.PHONY: test
test: images ## go vet, the unit tests under the race detector, then every test, with Docker
	go vet $(TEST_PKGS)
	go test -short -race -count=1 $(TEST_PKGS)
	go test $(TESTFLAGS) -count=1 -timeout $(TEST_TIMEOUT) $(TEST_PKGS)

.PHONY: test-short
test-short: ## unit tests only: go test -short, no Docker
	go test -short ./...

.PHONY: drill
drill: images ## run the reference drill suite (the pipeline), write the report (JSON, Markdown, HTML, JUnit) and print it
	@mkdir -p "$(REPORT_DIR)" out/bin
	@rm -f "$(REPORT_DIR)"/report.* "$(REPORT_DIR)"/junit.xml
	go build -o out/bin/firedrill ./cmd/firedrill
	@rc=0; FIREDRILL_REPORT_DIR="$(REPORT_DIR)" go test $(TESTFLAGS) $(DRILL_FLAGS) -count=1 -timeout $(TEST_TIMEOUT) -run '$(DRILL_RUN)' $(DRILL_PKGS) || rc=$$?; \
	if [ ! -f "$(REPORT_DIR)/report.json" ]; then echo "make drill: no drill ran, no report written" >&2; exit 1; fi; \
	out/bin/firedrill report -f html -o "$(REPORT_DIR)/report.html" "$(REPORT_DIR)/report.json"; \
	out/bin/firedrill report -f junit -o "$(REPORT_DIR)/junit.xml" "$(REPORT_DIR)/report.json"; \
	out/bin/firedrill report -f md -o "$(REPORT_DIR)/report.md" "$(REPORT_DIR)/report.json"; \
	echo; awk '/^### /{exit} {print}' "$(REPORT_DIR)/report.md"; \
	echo "report: $(REPORT_DIR)/report.html (also report.json, report.md, junit.xml)"; \
	exit $$rc

.PHONY: drill-catalogue
drill-catalogue: ## the catalogue's drills (etcd, NATS JetStream) and the Compose example, with their report in out/catalogue
	@$(MAKE) --no-print-directory drill DRILL_RUN='^Test(Etcd|NATS|Compose)' REPORT_DIR='$(CURDIR)/out/catalogue'

.PHONY: drill-defects
drill-defects: images ## plant each defect in the reference pipeline and require its drill to fail with the right verdict; print the table
	@mkdir -p out
	@echo "| defect | drill | verdict | what caught it |"
	@echo "|---|---|---|---|"
	@rc=0; FIREDRILL_PROGRESS=0 go test -count=1 -timeout $(TEST_TIMEOUT) -run '^TestDefects$$' -v $(DRILL_PKGS) > out/drill-defects.log 2>&1 || rc=$$?; \
		grep -o 'defect | .*' out/drill-defects.log | sed 's/^defect //'; \
		grep -E '^(--- FAIL|FAIL|ok)' out/drill-defects.log || true; \
		echo "log: out/drill-defects.log"; exit $$rc

# The calibration matrix `make calibrate` runs: every outage length × bucket
# width × rate, CALIBRATION_REPS times each (about 4 minutes a repetition).
CALIBRATION_REPS ?= 3

.PHONY: calibrate
calibrate: images ## take a link down for exactly D at many D, bucket widths and rates; print the TTR error table
	@mkdir -p out
	@echo "| D | bucket | rate | truth inside the bounds | mean error | max error | widest stated ± |"
	@echo "|---|---|---|---|---|---|---|"
	@rc=0; FIREDRILL_CALIBRATION_FULL=1 FIREDRILL_CALIBRATION_REPS=$(CALIBRATION_REPS) FIREDRILL_PROGRESS=0 \
		go test -count=1 -timeout 60m -run '^TestCalibrationOutage$$' -v ./drills/ > out/calibration.log 2>&1 || rc=$$?; \
		grep -o 'calibration | .*' out/calibration.log | sed 's/^calibration //'; \
		echo "log: out/calibration.log"; exit $$rc

.PHONY: wipe
wipe: ## remove every firedrill-labelled container and network a killed test left behind, and every Kubernetes cluster's nodes and host directories
	@if grep -qs '^package main' cmd/firedrill/*.go; then \
		scripts/cluster.sh wipe; \
		go run ./cmd/firedrill wipe; \
	else \
		scripts/wipe.sh; \
	fi

# Nodes `make cluster` starts.
CLUSTER_NODES ?= 3

# A silent node is NotReady after this long in the cluster make cluster
# starts (the drills' node-loss budgets assume it; Kubernetes' own default
# is 40-50 s). Empty: Kubernetes' default.
CLUSTER_NODE_GRACE ?= 20s

.PHONY: cluster
cluster: docker images ## build (cached) and start a real Kubernetes cluster of CLUSTER_NODES (3) node containers; see scripts/cluster.sh
	@scripts/cluster.sh build
	@FIREDRILL_K8S_NODE_GRACE=$(CLUSTER_NODE_GRACE) scripts/cluster.sh up $(CLUSTER_NODES)

.PHONY: test-kube
test-kube: images ## the tests on a real Kubernetes cluster: builds it (cached), starts 3 nodes of its own, runs them, removes it (scripts/test-kube.sh)
	@scripts/test-kube.sh

.PHONY: cluster-down
cluster-down: ## remove the cluster make cluster started: its node containers, network and host directories
	@scripts/cluster.sh down

.PHONY: mocks
mocks: ## regenerate the mockery mocks (.mockery.yaml)
	go tool mockery

.PHONY: bench
bench: images ## run the benchmarks (BENCH=regexp, BENCH_PKGS=packages)
	go test -p 1 -count=1 -run '^$$' -bench '$(BENCH)' -benchmem -timeout $(TEST_TIMEOUT) $(BENCH_PKGS)

.PHONY: figures
figures: docker ## print the foundation figures: make images cold/warm, system start/teardown
	@scripts/figures.sh

.PHONY: lint
lint: ## gofmt -l, go vet, golangci-lint (pinned in go.mod) and stale mocks; fails when any cannot run
	@out=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go' | grep -v '/testdata/')); \
	if [ -n "$$out" ]; then echo "gofmt: these files need formatting (make fmt):"; echo "$$out"; exit 1; fi
	go vet $(TEST_PKGS)
	go tool golangci-lint run ./...
	@scripts/mocks-check.sh

.PHONY: fmt
fmt: ## format the Go code
	go fmt ./...
