# Set-up is idempotent: the venv is (re)built only when pyproject.toml changes.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export HF_HUB_OFFLINE ?= 1

.PHONY: install run demo test lint bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet 'torch==2.14.1' 'torchvision==0.29.1'
	$(PY) -m pip install --quiet -e '.[engine,test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/labconsole demo

demo: run

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy engine/core tui
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(PY) benchmarks/log_overhead.py
	$(PY) benchmarks/engine_overhead.py
	$(PY) benchmarks/data_scale.py

clean:
	rm -rf $(VENV) .pytest_cache
