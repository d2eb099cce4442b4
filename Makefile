# Two commands do everything on a fresh machine: `make demo` and `make test`.
# The first interpreter >= 3.10 found; 3.11 first (the torch wheels on these machines are built for it).
PYTHON ?= $(firstword $(foreach p,python3.11 python3 python3.12 python3.13 python3.10,\
	$(if $(shell command -v $(p) >/dev/null 2>&1 && $(p) -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null && echo ok),$(p))))
VENV   := .venv
PY     := $(VENV)/bin/python
# Real MNIST lives beside the repository (never committed); override with MNIST_DIR=...
MNIST_DIR ?= $(abspath ../shared/data/mnist)
export BASICPROP_MNIST_DIR ?= $(MNIST_DIR)
DEMO   ?= runs/demo

.PHONY: venv demo test bench clean

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: no Python >= 3.10 found (set PYTHON=...)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,ray]'
	@touch $@

venv: $(VENV)/.installed

demo: venv
	$(PY) cli.py demo --out $(DEMO)

# One pytest-xdist worker per core (TEST_JOBS=0: every test in this one process).
TEST_JOBS ?= auto
test: venv
	$(PY) -m pytest -q -n $(TEST_JOBS)

bench: venv
	$(PY) benchmarks/bench_generate.py
	$(PY) benchmarks/bench_train.py
	$(PY) benchmarks/bench_eval.py

clean:
	rm -rf $(VENV) runs build *.egg-info .pytest_cache mutants

# Mutation testing (mutmut, config in pyproject's [tool.mutmut]) of the core modules against the fast tests; slow,
# so not part of `make test`. One module at a time: make mutants MUTANTS='eval.mig.*'. Results land in mutants/;
# list the survivors with `.venv/bin/mutmut results`, show one with `.venv/bin/mutmut show NAME`.
MUTANTS      ?=
MUTANT_JOBS  ?= 1
.PHONY: mutants
$(VENV)/.mutmut: $(VENV)/.installed
	$(PY) -m pip install -q -e '.[mutants]'
	@touch $@

mutants: $(VENV)/.mutmut
	OMP_NUM_THREADS=1 $(VENV)/bin/mutmut run --max-children $(MUTANT_JOBS) $(MUTANTS)
	$(VENV)/bin/mutmut results
