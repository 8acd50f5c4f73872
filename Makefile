# The one place where Willow's commands are defined. README, CI and developers call these targets.
# `make help` lists them.

SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
RASA := $(VENV)/bin/rasa
PORT ?= 5005
SHELL_PORT ?= 5006
ACTIONS_PORT ?= 5055
NLU_FLOOR ?= 0.90
RESULTS ?= results

# Rasa must never phone home, and TensorFlow's start-up chatter hides what matters.
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONDONTWRITEBYTECODE := 1
# Library deprecation notices are not ours to fix and bury real messages.
export PYTHONWARNINGS := ignore::DeprecationWarning
export SQLALCHEMY_SILENCE_UBER_WARNING := 1

MODEL = $(shell $(PY) -m willow.model_files)
SPACY_MODEL := models/spacy/en_willow

.DEFAULT_GOAL := help
.PHONY: help install install-test spacy-model crisis-responses train validate run shell actions test test-unit rasa-test safety-eval compare clean lock

help: ## List the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(VENV)/.runtime-installed: requirements/runtime.txt scripts/find-python.sh
	@echo "==> Setting up the Python 3.10 virtual environment in $(VENV) (first time: about 2 minutes)"
	@test -x $(PY) || $$(scripts/find-python.sh) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check pip==24.0
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements/runtime.txt
	@touch $@

$(VENV)/.test-installed: $(VENV)/.runtime-installed requirements/test.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements/test.txt
	@touch $@

install: $(VENV)/.runtime-installed ## Create the venv and install pinned runtime dependencies

install-test: $(VENV)/.test-installed ## Also install the pinned test tools

$(SPACY_MODEL)/meta.json: $(VENV)/.runtime-installed willow/spacy_pipeline.py
	@$(PY) -m willow.spacy_pipeline $(SPACY_MODEL)

spacy-model: $(SPACY_MODEL)/meta.json ## Build the spaCy pipeline (blank English + lookup lemmas)

domain/crisis_responses.yml: content/crisis_lines.yml content/crisis_messages.yml willow/crisis_lines.py | $(VENV)/.runtime-installed
	@$(PY) -m willow.crisis_lines

crisis-responses: domain/crisis_responses.yml ## Rebuild the crisis responses from content/crisis_lines.yml

train: spacy-model domain/crisis_responses.yml ## Train a model, unless one for the current data exists already
	@model="$(MODEL)"; if [ -f "$$model" ]; then echo "==> Model is up to date: $$model"; \
	else echo "==> Training $$model (about a minute)"; \
	$(RASA) train --config config.yml --domain domain --data data --out models \
	  --fixed-model-name "$$(basename $$model .tar.gz)"; fi

validate: spacy-model domain/crisis_responses.yml ## Check domain, data and stories for mistakes (warnings fail)
	$(RASA) data validate --config config.yml --domain domain --data data --fail-on-warnings

run: train ## Set up everything and start Willow (action server + Rasa server)
	@scripts/serve.sh run "$(MODEL)" $(PORT) $(ACTIONS_PORT)

shell: train ## Chat with Willow in the terminal
	@scripts/serve.sh shell "$(MODEL)" $(SHELL_PORT) $(ACTIONS_PORT)

actions: install ## Start only the action server
	$(VENV)/bin/rasa run actions --actions actions --port $(ACTIONS_PORT)

test: install-test validate train ## Set up everything and run every test
	$(PY) -m pytest tests -p no:cacheprovider --nlu-floor $(NLU_FLOOR)

rasa-test: train ## Story tests and held-out NLU evaluation with `rasa test` (reports in $(RESULTS)/)
	$(RASA) test --model "$(MODEL)" --stories tests/test_stories.yml --nlu tests/test_nlu.yml \
	  --fail-on-prediction-errors --out $(RESULTS)

safety-eval: train ## Every held-out risk message and hard negative through the full server: recall, false positives
	$(PY) -m willow.safety_eval

test-unit: install-test ## Only the fast tests (no model, no servers)
	$(PY) -m pytest tests -p no:cacheprovider -m "not slow"

compare: install-test spacy-model ## Compare NLU pipelines on tests/test_nlu.yml (CV=--cv adds 5-fold CV; writes docs/nlu-comparison.md)
	$(PY) scripts/compare_pipelines.py $(CV)

lock: ## Re-resolve dependencies into requirements/runtime.txt (needs the package index)
	@scripts/lock.sh

clean: ## Remove the venv, models and test results
	rm -rf $(VENV) models results .rasa .pytest_cache
