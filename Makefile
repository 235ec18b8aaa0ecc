# Two commands: `make demo` sets everything up and runs the pipeline on the
# generated dataset; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# Pinned torch: pip takes a local CPU wheel of this version where its settings offer one, else
# PyPI's default wheel (CUDA on Linux); see the README (PyTorch: CPU or CUDA build).
TORCH := torch==2.13.0
EXTRAS := crepe,synth,analysis,notebooks,dask,openl3,panns,clap,hf,hear,dev
PER_CLASS ?= 32

# The published analysis environment's library versions (the paper's
# environments/environment.yml): `make test-published-env` installs them beside the
# package in a second environment and runs the analysis tests there, so that the
# analysis stages give the same numbers under those versions as under today's.
PUBLISHED_PYTHON ?= python3.11
PUBLISHED_VENV ?= .venv-published
PUBLISHED_PINS := numpy==1.26.4 scikit-learn==1.2.2 pandas==2.2.2 scipy==1.14.0 \
	h5py==3.11.0 umap-learn==0.5.6
# Tests of the stages after extraction: averaging, split, sensitivity, desensitisation,
# classification, result files, figures, report and scorecard (no torch, no models).
ANALYSIS_TESTS := tests/sweep tests/analysis tests/classification \
	tests/reporting/test_figures.py tests/reporting/test_reading.py \
	tests/reporting/test_roc_figures.py tests/reporting/test_scorecard.py \
	tests/integration/test_analysis_faults.py tests/integration/test_analysis_scripts.py \
	tests/integration/test_planted_pipeline.py tests/test_store.py

.PHONY: setup demo test test-published-env lint bench mutate clean-demo

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

$(PUBLISHED_VENV)/.installed: pyproject.toml Makefile
	$(PUBLISHED_PYTHON) -m venv $(PUBLISHED_VENV)
	$(PUBLISHED_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PUBLISHED_VENV)/bin/python -m pip install --quiet $(PUBLISHED_PINS) -e ".[analysis]" \
		"pytest>=7.4"
	touch $@

# The same numbers in both environments (tests/published_env_numbers.py), then the tests.
test-published-env: setup $(PUBLISHED_VENV)/.installed
	$(PY) tests/published_env_numbers.py write $(PUBLISHED_VENV)/numbers-today.npz
	$(PUBLISHED_VENV)/bin/python tests/published_env_numbers.py compare \
		$(PUBLISHED_VENV)/numbers-today.npz
	$(PUBLISHED_VENV)/bin/python -m pytest -p no:cacheprovider \
		$(ANALYSIS_TESTS)

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
