# Every target builds .venv itself, so each works on a fresh clone.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test bench bench-scale lint clean acceptance-report fuzz soak patient-page acceptance-screenshot fhir-fixtures load

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/jdm-cds evaluate examples/patient-mda5.yaml

# The acceptance report's formatter (node) is installed where npm is: a test opens a report it
# made in headless Chromium (that test is skipped without node and Chromium).
REPORT_TOOL := tools/acceptance-report
NPM := $(shell command -v npm 2>/dev/null)
test: lint $(if $(NPM),$(REPORT_TOOL)/node_modules/.package-lock.json)
	$(BIN)/python -m pytest -q

# mypy reads the import names (jdm_cds, jdm_cds_plugins) through links onto the folders
# that setuptools maps them from; it cannot follow the editable install's import hook.
lint: $(STAMP)
	$(BIN)/ruff check engine plugins rules tests features examples
	@mkdir -p build/typecheck
	@ln -sfn ../../engine build/typecheck/jdm_cds
	@ln -sfn ../../plugins build/typecheck/jdm_cds_plugins
	$(BIN)/mypy

# The property tests marked fuzz, each as a long campaign (tests/campaign.py), spread over
# every core (pytest-xdist); --durations lists the time of each campaign.
fuzz: $(STAMP)
	JDM_CDS_FUZZ=1 $(BIN)/python -m pytest -q -n auto -p no:cacheprovider --durations=0 -m fuzz tests

# Memory over a long life: 10,000 short-lived threads, then 1,000,000 evaluations, each flat
# within 5% after warm-up (python -m jdm_cds.soak -h).
soak: $(STAMP)
	$(BIN)/python -m jdm_cds.soak

# The FHIR fixtures (examples/fhir/, features/fhir_study_cases/: outside features/study_cases,
# whose folder is one cohort) are the patient files exported by `jdm-cds fhir export`: regenerate them
# whenever a patient file changes (tests/test_fhir_fixtures.py checks that they are current).
FHIR_SOURCES := examples/patient-mda5.yaml $(wildcard features/study_cases/P*.yaml)
fhir-fixtures: $(STAMP)
	@for f in $(FHIR_SOURCES); do \
	  case $$f in examples/*) dir=examples/fhir;; *) dir=features/fhir_study_cases;; esac; \
	  out=$$dir/$$(basename $$f .yaml).json; mkdir -p $$dir; \
	  $(BIN)/jdm-cds fhir export $$f -o $$out || exit 1; echo "$$out"; done

# Throughput of one process; FHIR input; the start-up of `jdm-cds evaluate` against
# `python3.11 -c pass`, run in turn (python -m jdm_cds.bench_scale --startup-only).
bench: $(STAMP)
	$(BIN)/python -m jdm_cds.bench
	$(BIN)/python -m jdm_cds.interop.fhir.bench
	$(BIN)/python -m jdm_cds.bench_scale --startup-only

# Cohorts at scale: YAML, JSON and JSON Lines through cohort with --jobs 1, --jobs 2 and
# Dask; start-up time. SIZES="10000 100000" (and SIZES=1000000 FORMATS=jsonl RUNNERS=jobs2)
# to choose; BENCH_SCALE_ARGS="--memory --cohort-dir DIR" adds evaluate's memory over a
# run and keeps the generated cohorts for the next run (python -m jdm_cds.bench_scale -h).
SIZES ?= 10000
FORMATS ?= yaml json jsonl
RUNNERS ?= jobs1 jobs2 dask2
bench-scale: $(STAMP)
	$(BIN)/python -m jdm_cds.bench_scale --patients $(SIZES) --formats $(FORMATS) \
		--runners $(RUNNERS) $(BENCH_SCALE_ARGS)

# The CDS Hooks service under load: 50 clients for 30 s on patient-view with prefetch, 2
# workers (README "CDS Hooks service"). LOAD_ARGS="--clients 100 --seconds 60" to change,
# LOAD_ARGS="--alg RS384" for RS384 tokens (ES384 by default).
load: $(STAMP)
	$(BIN)/python -m jdm_cds.service.load $(LOAD_ARGS)

# The Gherkin scenarios as an HTML page for clinicians (reports/acceptance/index.html). The
# page is written even when scenarios fail; the target then fails too.
$(REPORT_TOOL)/node_modules/.package-lock.json: $(REPORT_TOOL)/package-lock.json
	npm ci --prefix $(REPORT_TOOL) --no-audit --no-fund --loglevel=error

acceptance-report: $(STAMP) $(REPORT_TOOL)/node_modules/.package-lock.json
	rm -rf reports/cucumber reports/acceptance
	mkdir -p reports/cucumber
	$(BIN)/python -m pytest -q features --cucumberjson=reports/cucumber/acceptance.json; \
	status=$$?; \
	node $(REPORT_TOOL)/generate.js reports/cucumber reports/acceptance || exit 1; \
	exit $$status

# The acceptance report as headless Chromium shows it (docs/acceptance-report.png).
acceptance-screenshot: acceptance-report
	@command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)
	$(BIN)/python tests/browser.py reports/acceptance/index.html docs/acceptance-report.png \
		1280,1600

# The example's patient page (reports/patient-mda5.html), its figure as PNG and a screenshot
# in headless Chromium (docs/patient-page.png; Debian's chromium, installed if missing).
patient-page: $(STAMP)
	@command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)
	mkdir -p reports docs
	$(BIN)/jdm-cds report examples/patient-mda5.yaml -o reports/patient-mda5.html \
		--png docs/patient-mda5-trajectory.png
	$(BIN)/python tests/browser.py reports/patient-mda5.html docs/patient-page.png 1100,2400

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache reports $(REPORT_TOOL)/node_modules
