# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
# Real MNIST lives beside the repository (never committed); override with MNIST_DIR=...
MNIST_DIR ?= $(abspath ../shared/data/mnist)
export BASICPROP_MNIST_DIR ?= $(MNIST_DIR)
DEMO   ?= runs/demo

.PHONY: venv demo test bench clean

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found (set PYTHON=...)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

venv: $(VENV)/.installed

demo: venv
	$(PY) cli.py demo --out $(DEMO)

test: venv
	$(PY) -m pytest -q

bench: venv
	$(PY) benchmarks/bench_generate.py
	$(PY) benchmarks/bench_train.py
	$(PY) benchmarks/bench_eval.py

clean:
	rm -rf $(VENV) runs build *.egg-info .pytest_cache
