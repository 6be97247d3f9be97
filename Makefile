# The developer loop. `make test` is what CI runs.
SHELL := /bin/bash
CARGO ?= cargo
VENV ?= .venv
PYTHON := $(VENV)/bin/python
PYTHON_SOURCES := cloacina-python/python tests examples benchmarks docs/scripts scripts fuzz/python
RUST_EXAMPLES := $(notdir $(basename $(wildcard cloacina/examples/*.rs)))

# A PostgreSQL server for the tests (see scripts/postgres-url); empty means the PostgreSQL
# variants are skipped, loudly, unless CLOACINA_REQUIRE_POSTGRES=1 makes that a failure.
CLOACINA_TEST_POSTGRES_URL ?= $(shell scripts/postgres-url)
export CLOACINA_TEST_POSTGRES_URL
# With a server found, every PostgreSQL variant must run: one that cannot find it fails.
CLOACINA_REQUIRE_POSTGRES ?= $(if $(CLOACINA_TEST_POSTGRES_URL),1,)
export CLOACINA_REQUIRE_POSTGRES

# OpenSSL: the release wheel compiles it from source into the engine (`bundled-libpq`), so that
# nothing needs installing where the wheel runs; the debug builds of the developer loop link the
# machine's own when pkg-config finds one (Debian's libssl-dev), which saves compiling OpenSSL
# (about two and a half minutes on two cores) in each kind of build: clippy's and the tests'.
# OPENSSL_NO_VENDOR=0 compiles it in them too.
OPENSSL_NO_VENDOR ?= $(shell pkg-config --exists openssl 2>/dev/null && echo 1 || echo 0)
export OPENSSL_NO_VENDOR

.PHONY: build demo test rust-tests-build test-rust test-python test-install release-wheel lint fmt bench bench-check bench-peers \
  python-develop python-extensions module-wheels check-postgres docs docs-serve docs-check wheel \
  wheel-environments test-wheels release-check coverage leak-check leak-executions memcheck fuzz audit \
  test-ui-assets ui-check

build: python-develop
	$(CARGO) build --workspace

# The Python package, built from source into .venv (a debug build: fast to make).
python-develop: $(VENV)/.requirements
	VIRTUAL_ENV=$(abspath $(VENV)) $(VENV)/bin/maturin develop --quiet

# Extension modules of Rust tasks exported to Python (`cloacina::python_tasks!`): the hybrid
# example's and the tests'. Debug builds, as abi3 wheels in target/module-wheels, which every
# Python from 3.9 can install: into .venv here, into each version's environment by test-wheels.
# Each with the engine's `arrow` feature, which the tests' module needs: cargo resolves features
# per build, and with the same ones the second build reuses the engine the first compiled.
RUST_TASK_MODULES := tests/rust_tasks examples/hybrid/rust_tasks
MODULE_WHEEL_DIR := target/module-wheels
module-wheels: $(VENV)/.requirements
	rm -rf $(MODULE_WHEEL_DIR)
	for module in $(RUST_TASK_MODULES); do $(VENV)/bin/maturin build --quiet -m $$module/Cargo.toml \
	  --features cloacina/arrow --out $(MODULE_WHEEL_DIR) || exit 1; done

# Those modules installed into .venv, and the example's Rust program, which runs Python tasks.
python-extensions: python-develop module-wheels
	$(PYTHON) -m pip install --quiet --force-reinstall --no-deps $(MODULE_WHEEL_DIR)/*.whl
	VIRTUAL_ENV=$(abspath $(VENV)) $(CARGO) build --quiet -p hybrid-host $(DEBUG_BUILD_CONFIG)

# The environment with what the builds need, first: maturin, and zig (the release wheel's C
# compiler and linker). The builds start with it, while the rest of the requirements install.
BUILD_TOOLS := $(shell grep -E '^(maturin|ziglang)\b' requirements-dev.txt)
$(VENV)/.build-tools: requirements-dev.txt
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet $(foreach tool,$(BUILD_TOOLS),'$(tool)')
	touch $@

$(VENV)/.requirements: requirements-dev.txt requirements-test.txt $(VENV)/.build-tools
	$(PYTHON) -m pip install --quiet -r requirements-dev.txt
	touch $@

demo: python-develop
	$(PYTHON) examples/quickstart.py

test: test-rust test-python test-install test-ui-assets

# What runs beside other work and needs only the processor time it leaves idle: the release
# builds and valgrind's run. Under `make -j` the tests, whose bounds are in wall time, go first.
# Not the leak check's executions: they take little processor time (3 ms of the 15 an execution
# on PostgreSQL takes) but wait on the database at every step, and niced, they waited for the
# processor at each. Not the hot path's guard (bench-check): callgrind counts instructions, but
# a chain that takes longer in wall time on a loaded machine runs more of the engine's periodic
# work (polls, timers) per hop, and its figures rose by up to 6% so; it runs alone.
BACKGROUND := nice -n 10

# The checks that load the whole machine wait for make test's to end when AFTER_TEST=test: what
# .ci/run does, which runs the lint, make test and these checks in one `make -j` (so that the
# release wheel and the extension modules are built once), make test's three lanes side by side
# (the Rust tests, the Python tests, the release build) and these after them. (Started after
# the first two lanes only, those that need no release wheel delayed its build, on which the
# longest checks wait, by 270 s, and the whole run took longer.)
AFTER_TEST ?=
test-wheels leak-executions memcheck docs ui-check: | $(AFTER_TEST)

# Under `make -j`, make's jobserver is not passed to the recipes' programs (none of them is a
# make), but MAKEFLAGS would still name it, and cargo and rustdoc warn that they cannot reach
# it; they use their own. (Make exports the same flags as MFLAGS too.)
unexport MAKEFLAGS MFLAGS

check-postgres:
	@if [ -z "$(CLOACINA_TEST_POSTGRES_URL)" ]; then \
	  echo "!!! No PostgreSQL found: its test variants will be SKIPPED (set CLOACINA_TEST_POSTGRES_URL) !!!"; \
	  if [ "$${CLOACINA_REQUIRE_POSTGRES:-}" = 1 ]; then echo "CLOACINA_REQUIRE_POSTGRES=1: failing"; exit 1; fi; \
	else echo "PostgreSQL tests use $(CLOACINA_TEST_POSTGRES_URL)"; fi

# The optional features are tested and linted with the rest, in the same build: Arrow record
# batches in the engine, and Python tasks in a Rust program (whose tests import NumPy and pyarrow
# from the development environment, named by VIRTUAL_ENV).
RUST_FEATURES := --features cloacina/arrow,cloacina-python/embed

# CLIPPY_IN_BUILD=1 (what .ci/run sets): clippy lints the workspace's crates inside make test's
# debug builds, as cargo's workspace wrapper (clippy-driver compiles as rustc does, and lints),
# instead of in a check build of its own that compiles every dependency a second time; make lint
# then leaves clippy out. The same lints, denied the same way (`-D warnings`), on the same
# targets: every test program, example and library the test build compiles.
CLIPPY_IN_BUILD ?=
ifeq ($(CLIPPY_IN_BUILD),1)
CLIPPY_WRAPPER := build.rustc-workspace-wrapper="$(shell rustc --print sysroot)/bin/clippy-driver"
DEBUG_BUILD_CONFIG := --config '$(CLIPPY_WRAPPER)'
# How cargo clippy hands its arguments to clippy-driver.
export CLIPPY_ARGS := -D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__
endif

# cargo-nextest runs the tests of every test program side by side, more of them than there are
# cores (.config/nextest.toml: most wait on a database or a timer), and the compile-fail
# project trybuild builds beside them; cargo test runs one program after another. Then the
# documentation's examples, and the engine's example programs, which cargo built with the tests.
# Their build needs the environment's interpreter (the `embed` tests link it); running them needs
# the rest of the requirements (NumPy, pyarrow).
# It comes after the extension modules' debug builds (maturin's), never between them: PyO3's
# build script reads the environment, which maturin sets for an extension module and cargo here
# does not (an embedded interpreter, linked), and cargo reruns it, and recompiles everything that
# depends on PyO3 in this target directory (the engine with `python-export`, the web page's
# crate, the Python package's, the tests), at every switch from one to the other.
rust-tests-build: $(VENV)/.build-tools python-develop module-wheels
	@$(CARGO) nextest --version >/dev/null 2>&1 || { echo "cargo-nextest runs the Rust tests and is not installed: cargo install --locked cargo-nextest"; exit 1; }
	VIRTUAL_ENV=$(abspath $(VENV)) $(CARGO) nextest run --no-run --workspace $(RUST_FEATURES) $(DEBUG_BUILD_CONFIG)

test-rust: check-postgres rust-tests-build $(VENV)/.requirements
	VIRTUAL_ENV=$(abspath $(VENV)) $(CARGO) nextest run --workspace $(RUST_FEATURES) $(DEBUG_BUILD_CONFIG)
	VIRTUAL_ENV=$(abspath $(VENV)) $(CARGO) test --quiet --doc --workspace $(RUST_FEATURES) $(DEBUG_BUILD_CONFIG)
	for example in $(RUST_EXAMPLES); do target/debug/examples/$$example >/dev/null || exit 1; done

# The suite mostly waits (on child processes, timers and the database), so it runs in
# PYTEST_WORKERS processes at once (pytest-xdist); PYTEST_WORKERS=0 runs it in this one.
PYTEST_WORKERS ?= 3
test-python: check-postgres python-extensions
	VIRTUAL_ENV=$(abspath $(VENV)) $(PYTHON) -m pytest -ra --durations=10 -n $(PYTEST_WORKERS)
	$(PYTHON) -m mypy.stubtest cloacina cloacina_python --allowlist cloacina-python/stubtest-allowlist.txt
	$(PYTHON) -m mypy cloacina-python/python examples

# The web page's scripts' own tests (its graph layout and timeline), with the machine's Node.js;
# the page itself needs no Node.js: its files are built into the binary as they are.
test-ui-assets:
	node --test cloacina-ui/assets/tests/

# The web page in Debian's Chromium, driven by Playwright, against a database another process
# writes (scripts/ui/check_in_browser.py; screenshots in target/ui-screenshots); then its JSON
# API fuzzed from its OpenAPI description by schemathesis, UI_FUZZ_EXAMPLES requests per
# operation on a SQLite file and on a fresh PostgreSQL database, failing on any 5xx answer
# (scripts/ui/fuzz_api.py).
UI_FUZZ_EXAMPLES ?= 100
ui-check: python-extensions
	$(PYTHON) scripts/ui/check_in_browser.py --screenshots target/ui-screenshots
	$(PYTHON) scripts/ui/fuzz_api.py --examples $(UI_FUZZ_EXAMPLES) $(if $(CLOACINA_TEST_POSTGRES_URL),--postgres "$(CLOACINA_TEST_POSTGRES_URL)")

# The package's release wheel: one cp39-abi3 wheel for every CPython from 3.9, manylinux2014
# (glibc 2.17 and later), built with zig (from PyPI) as C compiler and linker against that old
# glibc, with SQLite, libpq and OpenSSL built in. It is what test-install, test-wheels, bench and
# bench-check use, so one release build serves them all.
WHEEL_DIR := target/wheels
ZIG_RELEASE_BUILD := OPENSSL_NO_VENDOR=0 PATH=$(abspath $(VENV))/bin:$$PATH $(BACKGROUND) $(VENV)/bin/maturin build --release --quiet --zig \
  --compatibility manylinux2014
release-wheel: $(VENV)/.build-tools
	rm -f $(WHEEL_DIR)/cloacina-*.whl
	$(ZIG_RELEASE_BUILD) --strip --out $(WHEEL_DIR)

# The engine's benchmark program, built the same way (benchmarks/pyproject.toml makes it a wheel
# of its own), so that it reuses the engine the wheel's release build compiled: a build with the
# host's compiler would compile it all again. Used from where cargo puts it.
ENGINE_BENCH := target/$(shell rustc -vV | sed -n 's/^host: //p')/release/engine-bench
ENGINE_BENCH_BUILD := $(ZIG_RELEASE_BUILD) -m benchmarks/Cargo.toml --out target/engine-bench-wheel

# That wheel, checked: its tags, `auditwheel show` (no library outside the manylinux policy),
# `abi3audit` (only the stable ABI), `twine check`, and its size (scripts/check_wheel.py).
wheel: release-wheel $(VENV)/.requirements
	$(PYTHON) scripts/check_wheel.py $(WHEEL_DIR)/cloacina-*.whl

# The wheel on every CPython from 3.9 to 3.13 the machine has (pyenv's): the whole test suite on
# the oldest and newest, the plan's snippets and a smoke run (SQLite and PostgreSQL, the system's
# libpq hidden) on each, side by side, one per core (scripts/test_wheels.py). Their environments,
# with what the tests need, are made first (wheel-environments): under `make -j`, while the wheel
# is built (niced: they mostly download), so that test-wheels then only adds the wheels.
wheel-environments: $(VENV)/.requirements
	$(BACKGROUND) $(PYTHON) scripts/test_wheels.py --prepare

test-wheels: wheel python-extensions wheel-environments
	VIRTUAL_ENV=$(abspath $(VENV)) $(PYTHON) scripts/test_wheels.py --wheel $(wildcard $(WHEEL_DIR)/cloacina-*.whl) \
	  $(addprefix --module-wheel ,$(wildcard $(MODULE_WHEEL_DIR)/*.whl)) --postgres "$(CLOACINA_TEST_POSTGRES_URL)"

# The release wheel installed into a fresh virtual environment, as a user would, and imported
# from outside the source tree.
test-install: release-wheel
	rm -rf target/install-check
	python3 -m venv target/install-check
	target/install-check/bin/python -m pip install --quiet $(WHEEL_DIR)/cloacina-*.whl
	cd /tmp && $(CURDIR)/target/install-check/bin/python -c \
	  "import cloacina, cloacina_python; print('installed cloacina', cloacina.__version__, 'from', cloacina.__file__)"

lint: $(VENV)/.requirements
	$(CARGO) fmt --all -- --check
	$(if $(CLIPPY_WRAPPER),@echo "clippy: in make test's build (CLIPPY_IN_BUILD=1)",$(CARGO) clippy --workspace --all-targets $(RUST_FEATURES) -- -D warnings)
	$(VENV)/bin/ruff check $(PYTHON_SOURCES)
	$(VENV)/bin/ruff format --check $(PYTHON_SOURCES)
	$(VENV)/bin/actionlint

fmt: $(VENV)/.requirements
	$(CARGO) fmt --all
	$(VENV)/bin/ruff format $(PYTHON_SOURCES)

# Release builds of the engine benchmark and of the Python package (into its own environment),
# then every measurement; see benchmarks/README.md. BENCH_ARGS passes options to run.py, e.g.
# BENCH_ARGS="--shapes chain_200 --rounds 5".
BENCH_VENV := target/bench-venv
# The extension modules of Rust tasks it measures (release wheels, beside the package's).
BENCH_TASK_MODULES := benchmarks/rust_tasks examples/hybrid/rust_tasks
bench: $(BENCH_VENV)/.requirements release-wheel
	$(ENGINE_BENCH_BUILD) --features fan-out
	rm -f $(WHEEL_DIR)/cloacina_bench_tasks-*.whl $(WHEEL_DIR)/hybrid_rust_tasks-*.whl
	for module in $(BENCH_TASK_MODULES); do $(VENV)/bin/maturin build --release --quiet --compatibility linux \
	  --auditwheel skip -m $$module/Cargo.toml --out $(WHEEL_DIR) || exit 1; done
	$(BENCH_VENV)/bin/python -m pip install --quiet --force-reinstall --no-deps $(WHEEL_DIR)/*.whl
	$(BENCH_VENV)/bin/python benchmarks/run.py --engine-bench $(ENGINE_BENCH) \
	  --postgres "$${CLOACINA_BENCH_POSTGRES_URL:-$(CLOACINA_TEST_POSTGRES_URL)}" $(BENCH_ARGS)

# The same shapes with Prefect 3 and DBOS (installed into an environment of their own);
# PEERS_ARGS passes options to peers/run.py, e.g. PEERS_ARGS="--shapes chain_200".
PEERS_VENV := target/bench-peers-venv
bench-peers: $(PEERS_VENV)/.requirements release-wheel
	$(PEERS_VENV)/bin/python -m pip install --quiet --force-reinstall --no-deps $(WHEEL_DIR)/cloacina-*.whl
	$(PEERS_VENV)/bin/python benchmarks/peers/run.py $(PEERS_ARGS)

$(PEERS_VENV)/.requirements: benchmarks/requirements.txt benchmarks/peers/requirements.txt
	test -x $(PEERS_VENV)/bin/python || python3 -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PEERS_VENV)/bin/python -m pip install --quiet -r benchmarks/requirements.txt -r benchmarks/peers/requirements.txt
	touch $@

$(BENCH_VENV)/.requirements: benchmarks/requirements.txt
	test -x $(BENCH_VENV)/bin/python || python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -r benchmarks/requirements.txt
	touch $@

# The guard against a slower hot path (see benchmarks/check.py): instructions per hop under
# callgrind and SQL statements per task, against benchmarks/baseline.json. Needs valgrind.
# BENCH_CHECK_ARGS=--update writes the figures measured as the new baseline.
# It needs nothing but the package: an environment of its own with the release wheel alone.
BENCH_CHECK_VENV := target/bench-check-venv
bench-check: release-wheel
	$(ENGINE_BENCH_BUILD)
	test -x $(BENCH_CHECK_VENV)/bin/python || python3 -m venv $(BENCH_CHECK_VENV)
	$(BENCH_CHECK_VENV)/bin/python -m pip install --quiet --force-reinstall --no-deps $(WHEEL_DIR)/cloacina-*.whl
	$(BENCH_CHECK_VENV)/bin/python benchmarks/check.py --engine-bench $(ENGINE_BENCH) $(BENCH_CHECK_ARGS)

# The documentation site (docs/README.md), built into target/docs: the Python API reference and
# the examples' pages generated, Hugo (a warning fails the build), the Rust reference from
# `cargo doc`, the Pagefind search index, and every link and anchor checked. Hugo, Pagefind and
# griffe come pinned from PyPI (docs/requirements.txt) into an environment of their own.
DOCS_VENV := target/docs-venv
DOCS_OUT := target/docs
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
RUST_DOC_CRATES := -p cloacina -p cloacina-macros -p cloacina-python
docs: $(DOCS_VENV)/.requirements
	VIRTUAL_ENV=$(abspath $(VENV)) RUSTDOCFLAGS="-D warnings" $(CARGO) doc --quiet --no-deps $(RUST_DOC_CRATES) $(RUST_FEATURES)
	$(DOCS_VENV)/bin/python docs/scripts/build_site.py --output $(DOCS_OUT) --version $(VERSION) --rust-docs target/doc

# The built site served at http://127.0.0.1:1313 (search included); run `make docs` again after
# changing a page.
docs-serve: docs
	$(DOCS_VENV)/bin/python -m http.server --bind 127.0.0.1 --directory $(DOCS_OUT) 1313

# The built site in headless Chromium (Debian's package) at desktop and phone widths; screenshots
# in target/docs-screenshots.
docs-check: docs
	$(DOCS_VENV)/bin/python docs/scripts/check_site_in_browser.py $(DOCS_OUT) --screenshots target/docs-screenshots

$(DOCS_VENV)/.requirements: docs/requirements.txt
	test -x $(DOCS_VENV)/bin/python || python3 -m venv $(DOCS_VENV)
	$(DOCS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(DOCS_VENV)/bin/python -m pip install --quiet -r docs/requirements.txt
	touch $@

# A release's consistency: one version in every crate, the wheel, `cloacina.__version__` and the
# site; its CHANGELOG.md entry; twine check and abi3audit (scripts/release_check.py).
release-check: wheel test-install docs
	$(PYTHON) scripts/release_check.py --wheel $(wildcard $(WHEEL_DIR)/cloacina-*.whl) \
	  --installed target/install-check/bin/python --site $(DOCS_OUT)

# Leaks, two checks (side by side under `make -j`): leak-executions runs 10,000 executions in one
# process per backend (SQLite file and memory, PostgreSQL; the three side by side) with the
# release wheel, resident memory and live Python objects by type compared before and after
# (scripts/leak_check.py); memcheck runs the engine's Rust tests under valgrind memcheck, which
# must find no definite leak (scripts/memcheck.py), from the build `make test` made (the
# workspace's, with RUST_FEATURES).
leak-check: leak-executions memcheck

LEAK_VENV := target/leak-check-venv
leak-executions: release-wheel
	test -x $(LEAK_VENV)/bin/python || python3 -m venv $(LEAK_VENV)
	$(LEAK_VENV)/bin/python -m pip install --quiet "psycopg[binary]>=3.1"
	$(LEAK_VENV)/bin/python -m pip install --quiet --force-reinstall --no-deps $(WHEEL_DIR)/cloacina-*.whl
	$(LEAK_VENV)/bin/python scripts/leak_check.py --postgres "$(CLOACINA_TEST_POSTGRES_URL)"

memcheck: $(VENV)/.requirements
	VIRTUAL_ENV=$(abspath $(VENV)) $(BACKGROUND) $(PYTHON) scripts/memcheck.py --workspace-features $(subst --features ,,$(RUST_FEATURES)) \
	  $(if $(CLIPPY_WRAPPER),--cargo-config '$(CLIPPY_WRAPPER)')

# Line coverage of the whole test suite: the Rust tests and the Python suite, with the engine
# and the extension built instrumented (cargo-llvm-cov, with Debian's LLVM of the compiler's
# major version), and the Python package measured by coverage.py; both summaries printed
# (scripts/coverage.sh).
coverage: $(VENV)/.requirements
	scripts/coverage.sh

# Fuzzing, FUZZ_SECONDS per target: the database URL parser and the stored-value decoder with
# cargo fuzz (libFuzzer, on the nightly toolchain), the Python value conversion with atheris.
# Findings go to fuzz/artifacts/.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := database_url stored_values
FUZZ_VENV := target/fuzz-venv
fuzz: release-wheel
	command -v cargo-fuzz >/dev/null || $(CARGO) install --quiet --locked cargo-fuzz
	for target in $(FUZZ_TARGETS); do \
	  (cd fuzz && $(CARGO) +nightly fuzz run $$target -- -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1) || exit 1; done
	test -x $(FUZZ_VENV)/bin/python || python3 -m venv $(FUZZ_VENV)
	$(FUZZ_VENV)/bin/python -m pip install --quiet "atheris>=2.3"
	$(FUZZ_VENV)/bin/python -m pip install --quiet --force-reinstall --no-deps $(WHEEL_DIR)/cloacina-*.whl
	$(FUZZ_VENV)/bin/python fuzz/python/values.py -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1

# The dependencies' checks that run here: cargo deny (licenses, banned and duplicate crates; see
# deny.toml) and pip-audit (known vulnerabilities of the Python packages the project installs).
audit: $(VENV)/.requirements
	command -v cargo-deny >/dev/null || $(CARGO) install --quiet --locked cargo-deny
	$(CARGO) deny check licenses bans
	$(VENV)/bin/pip-audit --requirement requirements-dev.txt --requirement docs/requirements.txt
