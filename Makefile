# SPDX-License-Identifier: GPL-3.0-or-later
# Developer entry points. Every target can run on its own; the ones that need the toolchain
# depend on `venv`, which is cheap once the venv is up to date.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

ROOT := $(CURDIR)
VENV := $(ROOT)/.venv
PY := $(VENV)/bin/python
# ansible-test and our CI images use this controller Python; see .python-version.
PYTHON_VERSION := 3.13
COLLECTION_LINK := $(ROOT)/.collections/ansible_collections/vaultops/replication

# Tools started by other tools (molecule -> ansible-playbook, integration targets -> vaultlab)
# are looked up on PATH, so the venv's bin goes first for every recipe.
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(ROOT)/.collections
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PYTHONDONTWRITEBYTECODE := 1

# pyenv's interpreter by absolute path: the python3.13 shim fails unless a version is selected.
BASE_PYTHON ?= $(shell ls -d "$${PYENV_ROOT:-$$HOME/.pyenv}"/versions/$(PYTHON_VERSION).*/bin/python$(PYTHON_VERSION) 2>/dev/null | sort -V | tail -n 1)

VENV_STAMP := $(VENV)/.make-venv-stamp
# vaultlab is installed in editable mode, so unlike the venv's other packages (uv --compile-bytecode)
# its modules have no bytecode, and PYTHONDONTWRITEBYTECODE keeps Python from writing any: every
# vaultlab process (CLI, launch server, the nodes it forks) compiled its 11,700 lines again, about
# 0.2 CPU-s per launch. Compiled here (again before make test, for edits since), into
# emulator/src's __pycache__ folders (git-ignored, left out of the collection tarball); Python
# checks each against its source and ignores a stale one.
VAULTLAB_BYTECODE = if [ -d emulator/src ]; then "$(PY)" -m compileall -q emulator/src >/dev/null; fi
VENV_INPUTS := requirements.txt requirements-dev.txt $(wildcard emulator/pyproject.toml)
# The venv's packages are installed with uv (pinned here), which fetches and unpacks them in
# parallel: the pinned requirements install several times faster than with pip (about 7 s against
# 22 s for requirements-dev.txt from a warm pip cache, more from a cold one). pip does it where uv
# cannot be installed or fails (uv is told to trust the system's CA certificates, as pip does). Same
# pins, same packages.
UV_VERSION := 0.9.5
PIP_INSTALL = { [ -x "$(VENV)/bin/uv" ] && "$(VENV)/bin/uv" pip install -q --native-tls --python "$(PY)" \
	--compile-bytecode $(1); } || "$(PY)" -m pip install -q $(1)

# Extra ansible-test arguments, e.g. `make integration ARGS=promote` or `make sanity ARGS='--test pylint'`.
ARGS ?=
# One piece of a suite (scripts/run-tests runs the pieces side by side):
#   make molecule SCENARIO=failback      make acceptance TESTS='tests/acceptance/test_x.py::test_y'
SCENARIO ?=
TESTS ?=
# Most vaultlab tests wait on real processes, so two pytest workers pay off even on 2 cores. Whole
# files go to one worker (--dist loadfile): files sharing a module-scoped lab (test_hvac runs in
# file order on one lab) start it once and keep their order. --no-loadscope-reorder: files go out in
# collection order, which emulator/tests/conftest.py starts with the longest (no long file left
# to run alone at the end).
EMULATOR_WORKERS ?= 2
# pytest runs of suites that use no property-based tests: without hypothesis' pytest plugin
# (loaded from its entry point otherwise) each run starts about a second of CPU sooner, and
# `make test` starts one such run per acceptance test. Also passed to the Molecule verifiers.
NO_HYPOTHESIS := -p no:hypothesispytest

# Which suites exist yet. A missing suite is reported as skipped, never as passed.
UNIT_TESTS := $(shell find tests/unit -name 'test_*.py' -not -path '*/__pycache__/*' 2>/dev/null | head -n 1)
INTEGRATION_TARGETS := $(shell find tests/integration/targets -mindepth 1 -maxdepth 1 -type d 2>/dev/null | head -n 1)
EMULATOR_TESTS := $(wildcard emulator/tests)
MOLECULE_SCENARIOS := $(wildcard molecule/*/molecule.yml)
ACCEPTANCE_TESTS := $(wildcard tests/acceptance/test_*.py)

.PHONY: help venv lint sanity units emulator-test integration molecule acceptance docs docs-test test demo build clean distclean bench ee

help:
	@echo "make demo           run the end-to-end demo against vaultlab"
	@echo "make test           lint, sanity, units, emulator-test, integration, molecule, acceptance, docs"
	@echo "make venv           create/update .venv ($(PYTHON_VERSION)) and the .collections link"
	@echo "make lint|sanity|units|emulator-test|integration|molecule|acceptance   one suite"
	@echo "     ARGS='...' is passed on to ansible-test (sanity/units/integration), e.g. ARGS=promote"
	@echo "     SCENARIO=name runs one Molecule scenario; TESTS='path::test' one acceptance test"
	@echo "     TEST_JOBS=n sets how many jobs make test runs at once (default: cores, at most 2),"
	@echo "     plus TEST_LIGHT_JOBS=n lanes for jobs that mostly wait (default 1 unless TEST_JOBS is set)"
	@echo "make docs           build the documentation site into build/docs/html (docs/requirements.txt)"
	@echo "make docs-test      build it and open every page and a drill report in headless Chromium"
	@echo "make build          build dist/vaultops-replication-*.tar.gz and prove it installs"
	@echo "make ee             build the example execution environment (awx/) with podman or docker"
	@echo "make bench          failover benchmarks -> docs/performance.md (not in make test; BENCH_QUICK=1: short)"
	@echo "make clean          remove build outputs (distclean: also .venv and .collections)"

venv: $(VENV_STAMP) $(COLLECTION_LINK)

$(VENV_STAMP): $(VENV_INPUTS)
	@if ! "$(PY)" -c 'import sys; sys.exit("%d.%d" % sys.version_info[:2] != "$(PYTHON_VERSION)")' 2>/dev/null; then \
	  if [ -z "$(BASE_PYTHON)" ] && ! command -v python$(PYTHON_VERSION) >/dev/null; then \
	    echo "error: Python $(PYTHON_VERSION) not found. Install it with pyenv (pyenv install $(PYTHON_VERSION)) or pass BASE_PYTHON=/path/to/python$(PYTHON_VERSION)." >&2; exit 1; \
	  fi; \
	  echo "==> creating $(VENV) with $(or $(BASE_PYTHON),python$(PYTHON_VERSION))"; \
	  rm -rf "$(VENV)"; \
	  "$(or $(BASE_PYTHON),python$(PYTHON_VERSION))" -m venv "$(VENV)"; \
	fi
	@"$(PY)" -m pip install -q uv==$(UV_VERSION) || echo "==> uv could not be installed: pip installs the requirements"
	@echo "==> installing requirements-dev.txt into $(VENV)"
	$(call PIP_INSTALL,-r requirements-dev.txt)
	@if [ -f emulator/pyproject.toml ]; then \
	  echo "==> installing vaultlab (emulator/) in editable mode"; \
	  $(call PIP_INSTALL,-e emulator); \
	  $(VAULTLAB_BYTECODE); \
	fi
	@touch "$@"

# A link, not a copy: ansible-playbook, ansible-doc, ansible-lint and molecule then see the
# working tree as it is. It points back at the repo root, so every tree walker excludes it.
$(COLLECTION_LINK):
	@mkdir -p "$(dir $@)"
	@ln -sfn ../../.. "$@"
	@test -f "$@/galaxy.yml" || { echo "error: $@ does not resolve to the repo root" >&2; exit 1; }

lint: venv
	@echo "==> ansible-lint"
	cd "$(ROOT)" && ansible-lint
	cd "$(ROOT)/emulator" && "$(PY)" -m pytest -q -p no:cacheprovider tests/test_layers.py  # vaultlab's layer rule
	cd "$(ROOT)" && antsibull-changelog lint  # changelogs/fragments are valid for the CHANGELOG.rst generator

sanity: venv
	@echo "==> ansible-test sanity (copy under build/ansible-test)"
	"$(PY)" scripts/ansible-test-tree sanity --python $(PYTHON_VERSION) $(ARGS)

units: venv
ifeq ($(UNIT_TESTS),)
	@echo "==> SKIPPED units: no tests/unit/**/test_*.py yet"
else
	@echo "==> ansible-test units"
	"$(PY)" scripts/ansible-test-tree units --python $(PYTHON_VERSION) $(ARGS)
endif

emulator-test: venv
ifeq ($(EMULATOR_TESTS),)
	@echo "==> SKIPPED emulator-test: no emulator/tests yet"
else
	@echo "==> pytest emulator/tests"
	cd emulator && "$(PY)" -m pytest -p no:cacheprovider -n $(EMULATOR_WORKERS) --dist loadfile --no-loadscope-reorder tests
endif

integration: venv
ifeq ($(INTEGRATION_TARGETS),)
	@echo "==> SKIPPED integration: no tests/integration/targets yet"
else
	@echo "==> ansible-test integration (targets start vaultlab themselves)"
	"$(PY)" scripts/ansible-test-tree integration --python $(PYTHON_VERSION) --local --continue-on-error $(ARGS)
endif

molecule: venv
ifeq ($(MOLECULE_SCENARIOS),)
	@echo "==> SKIPPED molecule: no molecule/*/molecule.yml yet"
else
	@echo "==> molecule test $(if $(SCENARIO),-s $(SCENARIO),--all)"
	@# A scenario an interrupted run left created would skip its create step (the sequence has no
	@# destroy before create): destroy those first (destroy.yml stops their lab).
	cd "$(ROOT)" && for s in $$(MOLECULE_GLOB='molecule/*/molecule.yml' molecule list $(if $(SCENARIO),-s $(SCENARIO)) --format plain 2>/dev/null \
	    | awk '$$5 == "true" { print $$4 }' | sort -u); do \
	  echo "==> molecule destroy -s $$s (left created by an interrupted run)"; \
	  MOLECULE_GLOB='molecule/*/molecule.yml' molecule destroy -s "$$s" || exit 1; \
	done
	cd "$(ROOT)" && PYTEST_ADDOPTS="$${PYTEST_ADDOPTS:-} $(NO_HYPOTHESIS)" MOLECULE_GLOB='molecule/*/molecule.yml' molecule test $(if $(SCENARIO),-s $(SCENARIO),--all)
endif

# Event-Driven Ansible (tests/acceptance/test_eda.py): ansible-rulebook and its rules engine, pinned in
# extensions/eda/requirements.txt, installed into the same venv only when the acceptance suite
# runs (under a lock: `make test` runs acceptance tests side by side). The engine also needs
# Java 17 (Debian's openjdk-17-jre-headless; .ci/run installs it).
EDA_STAMP := $(VENV)/.make-eda-stamp

$(EDA_STAMP): extensions/eda/requirements.txt $(VENV_STAMP)
	@echo "==> installing extensions/eda/requirements.txt into $(VENV)"
	flock "$(VENV)/.make-eda.lock" sh -c '$(call PIP_INSTALL,-r extensions/eda/requirements.txt)'
	@touch "$@"

# End-to-end acceptance tests (tests/acceptance): real labs, playbooks in their own processes,
# the built tarball used from a downstream repository layout.
acceptance: venv $(EDA_STAMP)
ifeq ($(ACCEPTANCE_TESTS),)
	@echo "==> SKIPPED acceptance: no tests/acceptance/test_*.py yet"
else
	@echo "==> pytest $(or $(TESTS),tests/acceptance)"
	cd "$(ROOT)" && "$(PY)" -m pytest -p no:cacheprovider $(NO_HYPOTHESIS) $(or $(TESTS),tests/acceptance)
endif

# Documentation site: hand-written guides (docs/*.md) plus the module and role reference that
# antsibull-docs generates, built by Sphinx into build/docs/html. Its toolchain (and Playwright
# for the browser check) is pinned in docs/requirements.txt, installed into the same venv only
# when a docs target runs.
DOCS_STAMP := $(VENV)/.make-docs-stamp

$(DOCS_STAMP): docs/requirements.txt $(VENV_STAMP)
	@echo "==> installing docs/requirements.txt into $(VENV)"
	$(call PIP_INSTALL,-r docs/requirements.txt)
	@touch "$@"

docs: venv $(DOCS_STAMP)
	@echo "==> building the documentation site"
	cd "$(ROOT)" && bash scripts/build-docs

# Builds the site itself and opens every page and a rendered drill report in headless Chromium
# (Debian's chromium package; .ci/run installs it). A missing browser fails the test.
docs-test: venv $(DOCS_STAMP)
	@echo "==> pytest tests/docs"
	cd "$(ROOT)" && "$(PY)" -m pytest -p no:cacheprovider $(NO_HYPOTHESIS) tests/docs

# Runs every suite even after a failure, prints a per-suite table and ends with one
# "N passed, N failed, N skipped" line; exits non-zero when anything failed.
test: venv
	@$(VAULTLAB_BYTECODE)
	"$(PY)" scripts/run-tests lint sanity units emulator-test integration molecule acceptance docs

demo: venv
	@if [ -f scripts/demo.sh ]; then \
	  exec bash scripts/demo.sh; \
	else \
	  echo "The demo is not available yet (scripts/demo.sh does not exist)." >&2; exit 1; \
	fi

build: venv
	@rm -rf dist && mkdir -p dist
	ansible-galaxy collection build --force --output-path dist "$(ROOT)"
	@tarball=$$(ls dist/vaultops-replication-*.tar.gz); \
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	echo "==> installing $$tarball into a scratch collections path"; \
	ANSIBLE_COLLECTIONS_PATH="$$tmp" ansible-galaxy collection install --offline -p "$$tmp" "$$tarball"; \
	module=$$( { find "$$tmp"/ansible_collections/vaultops/replication/plugins/modules -name '*.py' ! -name '__init__.py' 2>/dev/null || true; } | sort | head -n 1); \
	cd "$$tmp"; \
	if [ -n "$$module" ]; then \
	  name=$$(basename "$$module" .py); \
	  echo "==> ansible-doc vaultops.replication.$$name from the installed tarball"; \
	  ANSIBLE_COLLECTIONS_PATH="$$tmp" ansible-doc "vaultops.replication.$$name" >/dev/null; \
	fi; \
	ANSIBLE_COLLECTIONS_PATH="$$tmp" ansible-galaxy collection list vaultops.replication -p "$$tmp"; \
	test -f "$$tmp"/ansible_collections/vaultops/replication/emulator/pyproject.toml \
	  || { echo "error: the tarball does not carry emulator/ (vaultlab)" >&2; exit 1; }; \
	test ! -e "$$tmp"/ansible_collections/vaultops/replication/emulator/tests \
	  || { echo "error: the tarball carries emulator/tests" >&2; exit 1; }; \
	echo "==> OK: $$tarball builds and installs"

# Example execution environment (awx/execution-environment.yml) with the built tarball. The build
# context is always written to build/ee/context; the image is built only where podman (or a
# docker with a reachable daemon) exists.
ee: build
	@rm -rf build/ee && mkdir -p build/ee/ee-collections
	cp awx/execution-environment.yml awx/ee-requirements.yml build/ee/
	cp dist/vaultops-replication-*.tar.gz build/ee/ee-collections/vaultops-replication.tar.gz
	@if command -v podman >/dev/null 2>&1; then runtime=podman; \
	elif command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then runtime=docker; \
	else runtime=; fi; \
	if [ -z "$$runtime" ]; then \
	  ansible-builder create -f build/ee/execution-environment.yml -c build/ee/context --output-filename Containerfile >/dev/null; \
	  echo "error: no container runtime (podman, or docker with a running daemon) on this machine:" >&2; \
	  echo "       the build context is in build/ee/context; build it where one exists:" >&2; \
	  echo "       podman build -f build/ee/context/Containerfile -t vaultops-replication-ee:latest build/ee/context" >&2; \
	  exit 2; \
	fi; \
	echo "==> ansible-builder build with $$runtime"; \
	ansible-builder build --container-runtime "$$runtime" -f build/ee/execution-environment.yml -c build/ee/context -t vaultops-replication-ee:latest

# Benchmarks (never part of `make test`): planned DR failover by a raw API script, a peer-style
# uri playbook and the collection; detection latency; scaling. BENCH_QUICK=1 runs small sizes and
# writes benchmarks/results/ instead of docs/; other knobs (BENCH_RUNS, ...) in benchmarks/README.md.
BENCH_QUICK ?=
BENCH_STAMP := $(VENV)/.make-bench-stamp

$(BENCH_STAMP): benchmarks/requirements.txt $(VENV_STAMP)
	@echo "==> installing benchmarks/requirements.txt into $(VENV)"
	$(call PIP_INSTALL,-r benchmarks/requirements.txt)
	@touch "$@"

bench: venv $(BENCH_STAMP)
	@echo "==> benchmarks: planned DR failover$(if $(filter 1 yes true,$(BENCH_QUICK)), (quick run))"
	cd "$(ROOT)" && "$(PY)" -m benchmarks failover $(if $(filter 1 yes true,$(BENCH_QUICK)),--quick)

clean:
	rm -rf build dist tests/output .pytest_cache emulator/.pytest_cache emulator/build
	find . -path ./.venv -prune -o -path ./.collections -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf .venv .collections
