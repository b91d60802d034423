# The two commands: `make run` (the whole system on the embedded default) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# Tests and the embedded default use the weights shipped beside the repo when present.
SHARED_MODELS := $(abspath ../shared/models)
export UPSCALER_MODEL_DIR ?= $(if $(wildcard $(SHARED_MODELS)/*.safetensors),$(SHARED_MODELS),$(CURDIR)/models)

.PHONY: run test install install-test browser lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[worker,test]'
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py createcachetable
	$(PY) manage.py collectstatic --noinput -v 0
	PORT=$(PORT) $(PY) manage.py run_embedded

test: install
	$(PY) -m ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

bench: install
	$(PY) bench/inference.py

clean:
	rm -rf var .pytest_cache
