# The one place where Willow's commands are defined. README, CI and developers call these targets.
# `make help` lists them.

SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
RASA := $(VENV)/bin/rasa
PORT ?= 5005
SHELL_PORT ?= 5006
WEB_PORT ?= 8080
# Pages allowed to talk to Willow (CORS and the socket.io origin check), space-separated.
WEB_ALLOWED_ORIGINS ?= http://localhost:$(WEB_PORT) http://127.0.0.1:$(WEB_PORT)
export WEB_ALLOWED_ORIGINS
ACTIONS_PORT ?= 5055
NLU_FLOOR ?= 0.97
RESULTS ?= results
# Local PostgreSQL and Redis for the scale-out set-up and its tests (`make services`).
SERVICES_PG_PORT ?= 15432
SERVICES_REDIS_PORT ?= 16379
export SERVICES_PG_PORT SERVICES_REDIS_PORT
# `make purge` deletes conversations whose last event is older than this many days.
WILLOW_RETENTION_DAYS ?= 30
# `make load`: concurrent simulated users, each a multi-turn conversation.
LOAD_USERS ?= 20
LOAD_TURNS ?= 8
LOAD_SOCKETIO_USERS ?= 4

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
.PHONY: help install install-test system-deps web spacy-model crisis-responses safety-check-rules train validate run shell actions test test-unit rasa-test safety-eval language-eval real-eval telegram-webhook compare clean lock services services-stop purge report load fuzz soak bench provenance content-review

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

# Debian's chromium for the browser tests (Playwright drives it; it never downloads a browser).
system-deps: ## Install Debian packages the tests need (chromium); needs root or sudo
	@command -v chromium >/dev/null || { \
	  echo "==> Installing chromium from Debian's packages"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null \
	  || { echo "error: could not install chromium; install it yourself: sudo apt-get install chromium" >&2; exit 1; }; }

# npm ci installs every package of the lock file (the socket.io client, and axe-core for the browser
# tests); both files are targets, so a missing one (a deleted node_modules) installs again.
web/vendor/socket.io.min.js web/node_modules/axe-core/axe.min.js &: web/package.json web/package-lock.json
	@command -v npm >/dev/null || { echo "error: npm not found; install Node.js 18+ (for example: sudo apt-get install nodejs npm)" >&2; exit 1; }
	@echo "==> Installing the web page's socket.io client (and axe-core for the tests) from npm"
	@cd web && npm ci --no-audit --no-fund --silent
	@mkdir -p web/vendor && cp web/node_modules/socket.io-client/dist/socket.io.min.js web/vendor/
	@touch web/vendor/socket.io.min.js web/node_modules/axe-core/axe.min.js

web: web/vendor/socket.io.min.js web/node_modules/axe-core/axe.min.js ## Install the chat page's assets (socket.io client from npm; axe-core for the tests)

$(SPACY_MODEL)/meta.json: $(VENV)/.runtime-installed willow/spacy_pipeline.py
	@$(PY) -m willow.spacy_pipeline $(SPACY_MODEL)

spacy-model: $(SPACY_MODEL)/meta.json ## Build the spaCy pipeline (blank English + lookup lemmas)

domain/crisis_responses.yml: content/crisis_lines.yml content/crisis_messages.yml content/translated_responses.yml \
		$(wildcard content/languages/*.yml) willow/crisis_lines.py | $(VENV)/.runtime-installed
	@$(PY) -m willow.crisis_lines

crisis-responses: domain/crisis_responses.yml ## Rebuild the crisis responses from content/ (lines, wording, languages)

data/rules/safety_check.yml: content/safety_check.yml willow/safety_check.py | $(VENV)/.runtime-installed
	@$(PY) -m willow.safety_check

safety-check-rules: data/rules/safety_check.yml ## Rebuild the safety check's rules from content/safety_check.yml

train: spacy-model domain/crisis_responses.yml data/rules/safety_check.yml ## Train a model, unless one for the current data exists already
	@model="$(MODEL)"; if [ -f "$$model" ]; then echo "==> Model is up to date: $$model"; \
	else echo "==> Training $$model (about a minute)"; \
	$(RASA) train --config config.yml --domain domain --data data --out models \
	  --fixed-model-name "$$(basename $$model .tar.gz)"; fi

validate: spacy-model domain/crisis_responses.yml data/rules/safety_check.yml ## Check domain, data and stories for mistakes (warnings fail)
	$(RASA) data validate --config config.yml --domain domain --data data --fail-on-warnings

run: train web ## Set up everything and start Willow (action server, Rasa server, chat page)
	@WEB_PORT=$(WEB_PORT) scripts/serve.sh run "$(MODEL)" $(PORT) $(ACTIONS_PORT)

shell: train ## Chat with Willow in the terminal
	@scripts/serve.sh shell "$(MODEL)" $(SHELL_PORT) $(ACTIONS_PORT)

telegram-webhook: install ## Register TELEGRAM_WEBHOOK_URL and the secret token with Telegram (TELEGRAM_* variables)
	@$(PY) -m willow.channels.telegram set-webhook

actions: install ## Start only the action server
	$(VENV)/bin/rasa run actions --actions actions --port $(ACTIONS_PORT)

services: ## Install (if missing) PostgreSQL 15, Redis and haproxy; start PostgreSQL and Redis on 127.0.0.1, data in .services/
	@scripts/services.sh start

services-stop: ## Stop the PostgreSQL and Redis that `make services` started
	@scripts/services.sh stop

load: train ## Load test: concurrent REST + socket.io conversations on fresh servers (SQLite, like make run); fails if anything is lost
	$(PY) -m willow.load_test --users $(LOAD_USERS) --turns $(LOAD_TURNS) --socketio-users $(LOAD_SOCKETIO_USERS) --sqlite

# `make fuzz`: FUZZ_EXAMPLES generated inputs per channel, a new random seed each run (test-artifacts/fuzz.md).
FUZZ_EXAMPLES ?= 50000
fuzz: install-test train ## Fuzz every channel of the real servers: FUZZ_EXAMPLES (50000) random inputs each, random seed
	WILLOW_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) WILLOW_FUZZ_SEED=random $(PY) -m pytest tests/test_fuzz.py -p no:cacheprovider

# `make soak`: 20 users for SOAK_MINUTES; only the full-length run rewrites docs/soak.md.
SOAK_MINUTES ?= 30
soak: train ## Soak test: 20 users for SOAK_MINUTES (30) min on fresh servers (SQLite); fails on memory growth or loss
	$(PY) -m willow.soak --minutes $(SOAK_MINUTES) $(if $(filter 30,$(SOAK_MINUTES)),--out docs/soak.md)

provenance: install ## List which answer rests on which point of the source; fails if one is tied to no point
	@$(PY) -m willow.provenance

# The sheet a clinician signs before a clinic deploys Willow; `make test` fails when it is stale.
content-review: install domain/crisis_responses.yml ## Write docs/content-review.html: everything Willow says, for clinical sign-off
	@$(PY) -m willow.content_review

# Writes docs/benchmarks.md and docs/benchmarks-latency.png. BENCH_ARGS: see `python -m willow.bench --help`.
bench: install spacy-model domain/crisis_responses.yml ## Benchmark config.yml against Rasa's default config (60-90 min; docs/benchmarks.md)
	$(PY) -m willow.bench $(BENCH_ARGS)

purge: install ## Delete conversations last active more than WILLOW_RETENTION_DAYS (30) days ago
	@$(PY) -m willow.retention purge --days $(WILLOW_RETENTION_DAYS)

# `make report`: REPORT is the markdown file (charts go next to it); REPORT_ARGS e.g. "--since 2025-05-01".
REPORT ?= docs/usage-report.md
report: install ## Usage report from the tracker store (REPORT=docs/usage-report.md): counts and charts, no text, small counts hidden
	@$(PY) -m willow.usage_report --out "$(REPORT)" $(REPORT_ARGS)

test: install-test system-deps web validate train services ## Set up everything and run every test
	$(PY) -m pytest tests -p no:cacheprovider --nlu-floor $(NLU_FLOOR) --durations=15

rasa-test: train ## Story tests and held-out NLU evaluation with `rasa test` (reports in $(RESULTS)/)
	$(RASA) test --model "$(MODEL)" --stories tests/test_stories.yml --nlu tests/test_nlu.yml \
	  --fail-on-prediction-errors --out $(RESULTS)

safety-eval: train ## Every held-out risk message and hard negative through the full server: recall, false positives
	$(PY) -m willow.safety_eval

language-eval: train ## Risk in other languages (tests/languages/) through the full server: recall and false alarms per language
	$(PY) -m willow.language_eval

# CSV: one or more files with the columns of ../shared/data/counsel-chat-dev/questions.csv.
CSV ?= $(wildcard tests/real_style/*.csv)
real-eval: train ## Real-style messages (CSV=...) through the full server: crisis, check-in, struggle, on-topic, fallback per label
	$(PY) -m willow.real_eval $(CSV)

test-unit: install-test ## Only the fast tests (no model, no servers)
	$(PY) -m pytest tests -p no:cacheprovider -m "not slow"

compare: install-test spacy-model ## Compare NLU pipelines on tests/test_nlu.yml (CV=--cv adds 5-fold CV; writes docs/nlu-comparison.md)
	$(PY) scripts/compare_pipelines.py $(CV)

lock: ## Re-resolve dependencies into requirements/runtime.txt (needs the package index)
	@scripts/lock.sh

clean: ## Remove the venv, models and test results
	rm -rf $(VENV) models results .rasa .pytest_cache
