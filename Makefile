# The developer loop. `make test` is what CI runs.
SHELL := /bin/bash
CARGO ?= cargo

# A PostgreSQL server for the tests (see scripts/postgres-url); empty means the PostgreSQL
# variants are skipped, loudly, unless CLOACINA_REQUIRE_POSTGRES=1 makes that a failure.
CLOACINA_TEST_POSTGRES_URL ?= $(shell scripts/postgres-url)
export CLOACINA_TEST_POSTGRES_URL

.PHONY: build demo test test-rust lint fmt bench

build:
	$(CARGO) build --workspace

demo:
	$(CARGO) run --quiet -p cloacina --example quickstart

test: test-rust

test-rust:
	@if [ -z "$(CLOACINA_TEST_POSTGRES_URL)" ]; then \
	  echo "!!! No PostgreSQL found: its test variants will be SKIPPED (set CLOACINA_TEST_POSTGRES_URL) !!!"; \
	  if [ "$${CLOACINA_REQUIRE_POSTGRES:-}" = 1 ]; then echo "CLOACINA_REQUIRE_POSTGRES=1: failing"; exit 1; fi; \
	else echo "PostgreSQL tests use $(CLOACINA_TEST_POSTGRES_URL)"; fi
	$(CARGO) test --workspace
	$(CARGO) run --quiet -p cloacina --example quickstart >/dev/null

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

bench:
	CLOACINA_BENCH_POSTGRES_URL="$${CLOACINA_BENCH_POSTGRES_URL:-$(CLOACINA_TEST_POSTGRES_URL)}" \
	  $(CARGO) run --release -p cloacina-benchmarks
