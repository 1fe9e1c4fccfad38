# Two commands do everything (README): `make demo` runs the main job, `make test` runs the tests.
# Each sets itself up idempotently in .venv first. Override the torch build with TORCH_SPEC,
# e.g. `make test TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128"`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
SHARED_ASSETS ?= $(abspath ../shared/maniskill_assets)
export HF_HUB_OFFLINE ?= 1
export MS_SKIP_ASSET_DOWNLOAD_PROMPT := 1
export PYTHONUNBUFFERED := 1

.PHONY: setup sim-setup browser-setup test test-quick demo tour lint format bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_SPEC)
	$(BIN)/python -m pip install -q -e ".[sim,dev]"
	@rm -f $(VENV)/.installed-* && touch $@

# Software Vulkan (lavapipe) for ManiSkill on CPU-only machines, and the offline robot assets.
sim-setup: setup
	@bash scripts/setup_vulkan.sh
	@bash scripts/setup_assets.sh "$(SHARED_ASSETS)"

# Headless Chromium (Debian's packages, as root) for the play page's browser test; elsewhere that test skips and says why.
browser-setup:
	@bash scripts/setup_browser.sh

test: sim-setup browser-setup
	source scripts/sim_env.sh && $(BIN)/python -m pytest -q tests

# The development lane: everything but the tests marked slow or sim (`make test` runs those too).
test-quick: setup
	source scripts/sim_env.sh && $(BIN)/python -m pytest -q -m "not slow and not sim" tests

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

# The main job on the embedded default: BC vs world-model RL, both scored in ManiSkill (`--preset demo`: <= 15 min
# on 2 CPU cores). `make tour` is the quick tour of the env alone (throughput, a rollout video, a short SB3 PPO).
demo: sim-setup
	source scripts/sim_env.sh && $(BIN)/rla-gym wmrl --robot ur10e --task RollBall --out out/wmrl --overwrite

tour: sim-setup
	source scripts/sim_env.sh && $(BIN)/rla-gym demo

bench: sim-setup
	source scripts/sim_env.sh && for b in model_cost throughput sim_throughput; do $(BIN)/python -m benchmarks.$$b; done

clean:
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache
