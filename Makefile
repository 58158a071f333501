# InTheGrid: `make up` runs the platform locally; `make test` runs every test tier.
# Needs only Python 3.11: the first run creates .venv and installs the locked dependencies.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
UV_VERSION := 0.9.5
STAMP  := $(VENV)/.installed

.PHONY: venv up lint typecheck test test-unit test-integration test-operator test-browser test-k8s e2e-deps \
        test-deps k8s-tools bench lock audit clean docker image kind-base test-e2e \
        kind-node test-e2e-kind skaffold-run

venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	@# Bytecode once, here: where PYTHONDONTWRITEBYTECODE is set (CI machines, this project's images)
	@# every process otherwise compiles pandas & co. from source at each start, about 2 s of CPU.
	$(BIN)/python -m compileall -q -j0 services operator
	@touch $@

up: venv
	$(BIN)/inthegrid up

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: venv
	$(BIN)/mypy

# System tools some tiers need (Chromium, promtool, a kube-apiserver built from Go modules), installed
# by the project's own scripts. Outside CI a tier whose tool cannot exist skips and says why; under
# CI=true a skip fails the run (scripts/tier_summary.py).
test-deps: venv
	@bash scripts/install-test-deps.sh

k8s-tools:
	@bash scripts/build-k8s-tools.sh

# One pytest process per tier: the browser tier's Playwright (sync API) keeps an event loop
# running in its process, which must not leak into the asyncio tests of the other tiers.
# Each tier writes a JUnit report; the closing table (passed, skipped with reasons, failed, time per
# tier) is printed from them, and decides the exit status.
TIERS   := unit integration operator k8s browser e2e
REPORTS := test-artifacts/junit

test: lint typecheck test-deps e2e-deps
	@rm -rf $(REPORTS); mkdir -p $(REPORTS); \
	for tier in $(TIERS); do \
	  echo "== tests/$$tier"; \
	  INTHEGRID_E2E_KIND=1 $(BIN)/pytest -q -ra -p no:cacheprovider --junitxml=$(REPORTS)/$$tier.xml tests/$$tier; \
	done; \
	echo "== summary"; $(BIN)/python scripts/tier_summary.py $(REPORTS) $(TIERS)
	@bash scripts/audit-deps.sh

test-unit: venv
	$(BIN)/pytest -q tests/unit

test-integration: venv
	$(BIN)/pytest -q -ra tests/integration

test-operator: venv test-deps
	$(BIN)/pytest -q -ra tests/operator

test-browser: venv test-deps
	$(BIN)/pytest -q -ra tests/browser

test-k8s: venv test-deps
	$(BIN)/pytest -q -ra tests/k8s

# Container images, built here from Debian packages and PyPI (no registry needed): a Docker engine
# (Debian's docker.io, started without systemd), the Python base from mmdebstrap (cached by
# recipe), then the project image in each variant (full, services, operator; see
# scripts/build-image.sh), and the chart's bundled NATS from the nats-server Go module.
# IMAGE_TAG=dev is what `kind load docker-image inthegrid:dev` loads.
IMAGE_VARIANTS ?= full services operator

docker:
	@bash scripts/install-docker.sh

image: docker
	@bash scripts/build-image.sh $(IMAGE_VARIANTS)
	@bash scripts/build-nats-image.sh >/dev/null

# kind, offline (issue #12, section 2, first steps): the kind CLI from its Go module and a node base
# image from kind's recipe files and Debian packages (systemd, containerd, runc, CNI plugins), and
# the pod sandbox (pause) image its containerd expects.
kind-base: docker
	@bash scripts/build-kind-cli.sh >/dev/null
	@bash scripts/build-kind-base-image.sh >/dev/null
	@bash scripts/build-pause-image.sh >/dev/null

# The images as a user runs them (tests/e2e): every command starts, uid 10001 on a read-only root
# filesystem, the version matches the chart, the slim feed publishes to NATS (host and image), and
# `docker run --privileged` works through the runc wrapper and boots the kind node base; then a kind
# cluster from the node image built here with the chart installed on it (marker `kind`).
# Built before the tiers run; a failed build leaves the e2e tier to skip with its reason (which fails
# the run under CI=true) rather than stopping every other tier.
e2e-deps:
	@$(MAKE) --no-print-directory image kind-base kind-node || echo "building the images failed: the e2e tier will skip"

test-e2e: venv image kind-node
	INTHEGRID_E2E_KIND=1 $(BIN)/pytest -q -ra tests/e2e

# The kind node image (issue #12, section 2): kubelet, kubeadm, the control plane, CoreDNS and the
# local-path provisioner built from Go modules, their images imported into the base image's
# containerd (scripts/build-kind-node-image.sh; cached). The cluster tests (marker `kind`, opted in
# with INTHEGRID_E2E_KIND=1) run in the e2e tier of `make test` and `make test-e2e`; `make
# test-e2e-kind` runs them alone. See docs/kind-offline.md.
# Also the chart's bundled database image (PostgreSQL 18 + TimescaleDB from scripts/build-timescaledb.sh).
kind-node: kind-base
	@bash scripts/build-kind-node-image.sh >/dev/null
	@bash scripts/build-skaffold.sh >/dev/null
	@bash scripts/build-timescaledb-image.sh >/dev/null
	@bash scripts/build-prometheus-image.sh >/dev/null

# `skaffold run` into the kind cluster `inthegrid` (kind create cluster --config k8s/kind-cluster.yaml
# --image $$(scripts/build-kind-node-image.sh --name)) with the images built here: scripts/skaffold.sh.
skaffold-run: image kind-node
	bash scripts/skaffold.sh run

test-e2e-kind: venv image kind-node
	INTHEGRID_E2E_KIND=1 $(BIN)/pytest -q -ra -m kind tests/e2e

bench: venv
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# Re-resolve the lock file after changing dependencies in pyproject.toml.
lock: venv
	$(BIN)/uv pip compile pyproject.toml --all-extras --python-version 3.11 -o requirements.lock

# Known vulnerabilities in the locked dependencies (pip-audit against PyPI); fails on a finding.
audit: venv
	@bash scripts/audit-deps.sh

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
