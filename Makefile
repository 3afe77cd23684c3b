# snnc: `make demo` and `make test` are all a fresh machine needs (Python 3.11 + pip).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SNNC := $(VENV)/bin/snnc
STAMP := $(VENV)/.snnc-setup
# pip notes every --extra-index-url location it skips; keep the setup log readable.
PIPQ := 2>&1 | { grep -v -E '^WARNING: Location .* is ignored' || true; }
TORCH_SPEC := torch==2.13.0
LAVA_SPEC := lava-nc==0.10.0
# NeuroBench's metric functions, for the test that compares snnc's to them: --no-deps, since
# neurobench also declares torchaudio and tonic (its datasets; another torch); snntorch needs
# only torch and numpy; its NIR exporter (benchmarks/partition.py) nirtorch, which needs only
# nir and torch.
NEUROBENCH_SPEC := neurobench==2.3.0 snntorch==1.0.0 nirtorch==2.6
# lava-dl (SLAYER + netx) for the netx differential tests: declared for Python 3.10 and
# torch 2.3, it runs here on 3.11 / torch 2.13 with --no-deps; it imports nothing beyond our pins
# but OpenCV (and torchvision, stubbed by backends/lava/compat.py ensure_lava_dl).
LAVADL_SPECS := lava-dl==0.6.0 opencv-python-headless==4.11.0.86
LAVADL_STAMP := $(VENV)/.snnc-lavadl
PYTEST_ARGS ?=

.PHONY: setup setup-lavadl lint test test-full bench fuzz demo readme-outputs clean-venv help

help:
	@echo "make setup      create .venv with snnc (editable), Lava 0.10 and torch (CPU)"
	@echo "make setup-lavadl  add lava-dl 0.6.0 (SLAYER, netx) for the netx differential tests"
	@echo "make lint       check the layering (import-linter) and the code (ruff)"
	@echo "make test       set up if needed, lint, run the test suite (what CI runs)"
	@echo "make test-full  also the slow tests (larger differential runs)"
	@echo "make bench      run benchmarks/, write benchmarks/RESULTS.md"
	@echo "make fuzz       hypothesis fuzzing of every loader and the CLI"
	@echo "make demo       train on digits, compile for loihi2, simulate, HIL check, report"
	@echo "make readme-outputs  run every command block of README.md and docs/, check its shown output (UPDATE=1 rewrites)"

setup: $(STAMP)

# Re-run only when the pins or the package metadata change.
$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "snnc setup: installing pinned dependencies into $(VENV) (first time: about a minute)"
	@set -o pipefail; $(PY) -m pip install -q --upgrade pip setuptools wheel $(PIPQ)
	@set -o pipefail; $(PY) -m pip install -q -r requirements.txt $(PIPQ)
	@set -o pipefail; $(PY) -m pip install -q $(TORCH_SPEC) $(PIPQ)
	@set -o pipefail; $(PY) -m pip install -q --no-deps --ignore-requires-python $(LAVA_SPEC) $(PIPQ)
	@set -o pipefail; $(PY) -m pip install -q --no-deps $(NEUROBENCH_SPEC) $(PIPQ)
	@set -o pipefail; $(PY) -m pip install -q --no-deps --no-build-isolation -e . $(PIPQ)
	@$(PY) -c "import backends.lava.compat as c; c.ensure_lava(); import lava.proc.lif.process" \
		|| { echo "snnc setup: Lava does not import through backends/lava/compat.py"; exit 1; }
	@touch $(STAMP)
	@echo "snnc setup: done ($(VENV))"

setup-lavadl: $(LAVADL_STAMP)

$(LAVADL_STAMP): $(STAMP) Makefile
	@echo "snnc setup: installing $(LAVADL_SPECS) (--no-deps) into $(VENV)"
	@set -o pipefail; $(PY) -m pip install -q --no-deps --ignore-requires-python $(LAVADL_SPECS) $(PIPQ)
	@$(PY) -c "import backends.lava.compat as c; c.ensure_lava_dl(); import lava.lib.dl.netx" \
		|| { echo "snnc setup: lava-dl does not import through backends/lava/compat.py"; exit 1; }
	@touch $(LAVADL_STAMP)

# Contracts in pyproject.toml [tool.importlinter] (tests/test_layering.py shows each can fail);
# ruff's rules in [tool.ruff].
lint: setup
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/ruff check .

test: setup setup-lavadl lint
	$(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS)

test-full: setup setup-lavadl lint
	$(PY) -m pytest -q $(PYTEST_ARGS)

bench: setup
	$(PY) benchmarks/run_all.py

fuzz: setup
	$(PY) -m tests.fuzz.run_fuzz

demo: setup
	$(SNNC) demo

# README.md and docs/*.md blocks marked <!-- readme-outputs: NAME -->; UPDATE=1 rewrites them with the real output.
readme-outputs: setup
	$(PY) scripts/readme_outputs.py $(if $(UPDATE),--update)

clean-venv:
	rm -rf $(VENV)
