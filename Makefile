# Every target installs what it needs first: a fresh machine needs only Python 3.11.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
# The embedded mock, and the recorded exchanges of both dialects replayed beside it.
TARGETS ?= mock cassette:elevenlabs cassette:voiceai

.PHONY: install conformance test test-slow lint spec faults faults-live live-proof fuzz fuzz-cli mutants record bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $@

install: $(STAMP)

## Run the suite against the embedded mock (and the cassette replays) and write
## reports/report.html + reports/report.md. Another target: make conformance TARGETS=live:elevenlabs
conformance: $(STAMP)
	$(PY) -m conformance run $(addprefix --target ,$(TARGETS))

## What a developer runs before pushing (under 5 minutes on 2 cores): lint, spec freshness,
## types, every test but the whole-suite proofs marked `slow`. CI runs it, then test-slow.
test: $(STAMP)
	$(PY) -m ruff check conformance conformance_suite tests benchmarks setup.py
	$(PY) -m conformance.tools.specbuild --check
	$(PY) -m mypy
	$(PY) -m pytest -n auto --dist loadgroup -m "not slow"

## The long proofs (several minutes): the quick fault matrix, the live path against two
## correct servers, a whole mutant run. CI runs them after `make test`.
test-slow: $(STAMP)
	$(PY) -m pytest -n auto --dist loadgroup -m slow

## The fault matrix: the scenario suite against every named fault of the mock (about 3 min).
faults: $(STAMP)
	$(PY) -m conformance.tools.faultmatrix

## The fault matrix as a user meets it: `conformance run --target live:<dialect>` (the whole
## suite) against each fault served on loopback, by exit code and verdict line, both choice
## sets, then the voiceai dialect; no fault may end COULD NOT RUN (writes
## reports/faults-live-*.md; about 30 min each).
faults-live: $(STAMP)
	$(PY) -m conformance.tools.faultmatrix_live --choices default
	$(PY) -m conformance.tools.faultmatrix_live --choices alternate
	$(PY) -m conformance.tools.faultmatrix_live --choices default --dialect voiceai

## The whole suite through the live path against the mock with its default and its alternate
## choices, both dialects, safe / dispatch / outcomes: no failure, no error, no guard refusal,
## and exactly the flipped inferences differ (writes reports/live-proof.md; about 6 min).
live-proof: $(STAMP)
	$(PY) -m conformance.tools.liveproof

## The nightly fuzz depth: 1000 examples per operation, longer stateful runs.
fuzz: $(STAMP)
	CONFORMANCE_FUZZ=deep $(PY) -m pytest conformance_suite/contract

## Schemathesis' CLI alone (no project hooks) against the served mock: every check, every
## phase, 10,000+ requests; fails on any 5xx or reported failure (conformance/mock/README.md).
fuzz-cli: $(STAMP)
	$(PY) -m conformance.tools.fuzzcli $(if $(EXAMPLES),--examples $(EXAMPLES))

## The suite's mutation score: generated mutants of the mock's request handling through the
## suite (mock target, a live sample) and through Schemathesis' CLI alone; writes
## reports/mutants.md. MUTANTS=quick: a fixed-seed sample of 50 (680 s measured on a nearly quiet
## 2-core machine); the full run of 572 took 6,764 s (benchmarks/results/mutants.md).
mutants: $(STAMP)
	$(PY) -m conformance.tools.mutants $(if $(filter quick,$(MUTANTS)),--quick)

## Re-record cassettes for both dialects against the mock served on loopback.
record: $(STAMP)
	$(PY) -m conformance.tools.record

## Benchmarks: the mock beside Prism (installed with npm), scale, profile, suite speed;
## prints tables and writes reports/bench/latest.md (untracked; about 9 min, QUICK=1 for
## about 2: benchmarks/README.md). To replace the committed figures, on purpose:
## make bench BENCH_OUT=benchmarks/results, then commit benchmarks/results/. The staging
## section (whole live runs, about 15 min) only on request: python -m benchmarks.run --only staging
BENCH_OUT ?= reports/bench
bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,bench]'
	$(PY) -m benchmarks.run --out $(BENCH_OUT) $(if $(QUICK),--quick)

lint: $(STAMP)
	$(PY) -m ruff check conformance conformance_suite tests benchmarks setup.py

## Regenerate openapi/batch-calling.yaml from openapi/vendor/ and openapi/examples/.
## A bump: make spec VENDOR_SPEC=path/to/openapi.json [VENDOR_NAME=...] replaces the fragment,
## prints the diff against the committed spec and re-validates every cassette against it.
spec: $(STAMP)
	$(if $(VENDOR_SPEC),$(PY) -m conformance.tools.bump $(VENDOR_SPEC) $(if $(VENDOR_NAME),--name $(VENDOR_NAME)),$(PY) -m conformance.tools.specbuild)

clean:
	rm -rf $(VENV) reports .pytest_cache
