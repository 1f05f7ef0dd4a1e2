# Two commands do all set-up: `make demo` and `make test`. Both install into .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup test demo app lint clean

setup: $(STAMP)

# Re-install only when requirements.txt changes; a warm .venv makes this a no-op.
$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	@touch $(STAMP)

test: setup
	$(PY) -m pytest -q tests

demo: setup
	$(PY) demo.py

# The local web page (http://127.0.0.1:7860); ARGS="--port 8000" and config overrides pass through.
app: setup
	$(PY) app.py $(ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) weights/* samples/* results/* demo_data
