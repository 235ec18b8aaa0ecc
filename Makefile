# Two commands: `make demo` sets everything up and runs the pipeline on the
# generated dataset; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# The CPU build of torch 2.13.0; any other spec downloads a multi-GB CUDA build.
TORCH := torch==2.13.0
EXTRAS := crepe,synth,analysis,notebooks,dask,openl3,panns,clap,hf,hear,dev
PER_CLASS ?= 40

.PHONY: setup demo test lint bench mutate clean-demo

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet "$(TORCH)"
	$(PIP) install --quiet -e ".[$(EXTRAS)]" "$(TORCH)"
	# Installed without their declared dependencies: tinysoundfont's only one (pyaudio) is
	# for live playback and does not build here; torchopenl3 pins resampy<0.3 (broken on
	# numpy 2), msclap pins numpy<2 and hearbaseline numpy==1.19.2 and numba==0.48 (and wants
	# tensorflow, speechbrain) -- the extras above list what our code really needs.
	$(PIP) install --quiet --no-deps "tinysoundfont>=0.3" "torchopenl3==1.0.1" "msclap==1.3.4" \
		"hearbaseline==2021.1.1"
	touch $@

demo: setup
	$(PY) -m aesens.demo --workdir demo --per-class $(PER_CLASS)

test: setup
	$(PY) -m pytest

# Speed and memory benchmarks (minutes; not part of the tests): see README, Performance.
bench: setup
	$(PY) benchmarks/run_all.py

# Mutation testing of the numeric core with cosmic-ray (hours; not part of the tests):
# `make mutate MODULES="split cca"` for some modules; see tests/mutation/modules.toml.
mutate: setup
	$(PY) tests/mutation/run.py $(MODULES)

lint: setup
	$(VENV)/bin/ruff check .

clean-demo:
	rm -rf demo
