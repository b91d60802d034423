# The two commands: `make run` (the whole system on the embedded default) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# Tests and the embedded default use the weights shipped beside the repo when present.
SHARED_MODELS := $(abspath ../shared/models)
export UPSCALER_MODEL_DIR ?= $(if $(wildcard $(SHARED_MODELS)/*.safetensors),$(SHARED_MODELS),$(CURDIR)/models)

.PHONY: run test install system-deps lint lock bench clean compose-up compose-account compose-down compose-test

# Debian packages the tests drive: a headless browser for the admin, the compose parser,
# wrk for the API load run. Installed when missing (CI runs as root).
SYSTEM_TOOLS := wrk chromium chromedriver docker-compose redis-server
SYSTEM_PACKAGES := wrk chromium chromium-driver docker-compose redis-server

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c requirements.lock -e '.[worker,test]'
	touch $@

install: $(VENV)/.installed

system-deps:
	@missing=""; for tool in $(SYSTEM_TOOLS); do command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages for:$$missing"; \
	  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(SYSTEM_PACKAGES) >/dev/null; \
	fi

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py createcachetable
	$(PY) manage.py collectstatic --noinput -v 0
	PORT=$(PORT) $(PY) manage.py run_embedded

# Independent tests run in PYTEST_WORKERS processes (pytest-xdist; each has its own test
# database, Redis prefix and data folder), then the ones that measure time run alone.
# pytest's exit code 5 (nothing selected, e.g. by PYTEST_ARGS) is not a failure here.
PYTEST_WORKERS ?= 2
test: lint system-deps
	$(PY) -m pytest -n $(PYTEST_WORKERS) -m 'not serial' $(PYTEST_ARGS) || [ $$? -eq 5 ]
	$(PY) -m pytest -m serial $(PYTEST_ARGS) || [ $$? -eq 5 ]

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

# Rewrite requirements.lock from what is installed now (after changing pyproject.toml).
lock: install
	{ sed -n '1,2p' requirements.lock; $(PY) -m pip freeze --exclude-editable | grep -v '^upscaler-platform'; } > requirements.lock.new
	mv requirements.lock.new requirements.lock

bench: install system-deps
	$(PY) bench/inference.py
	$(PY) bench/api.py

clean:
	rm -rf var .pytest_cache

# The compose stack for real, on this machine and without registry access: docker-compose.yml
# plus the test override deploy/compose.local.yml (host network, 127.0.0.1 only). Installs
# Debian's docker.io, debootstrap and docker-compose and starts dockerd when missing (root).
# See the README, "Without registry access".
COMPOSE_LOCAL := PYTHON=$(abspath $(PY)) LOCAL_MODEL_DIR=$(UPSCALER_MODEL_DIR) PORT=$(PORT) deploy/local/compose.sh

compose-up: install
	@$(COMPOSE_LOCAL) up

# make compose-account NAME=mystudio CREDITS=1000: the API key is the last line.
compose-account:
	@$(COMPOSE_LOCAL) account "$(NAME)" "$(or $(CREDITS),0)"

compose-down:
	@$(COMPOSE_LOCAL) down

# Builds and starts the stack on free ports, drives it (tests/compose/), and stops it.
compose-test: install
	UPSCALER_COMPOSE_TEST=1 $(PY) -m pytest tests/compose -p no:cacheprovider $(PYTEST_ARGS)
