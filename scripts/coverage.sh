#!/usr/bin/env bash
# Line coverage of the whole test suite (`make coverage`): the Rust tests and the Python suite,
# with the engine and the extension modules built instrumented, measured together by
# cargo-llvm-cov; the Python package measured by coverage.py during the same Python run.
#
# cargo-llvm-cov comes from crates.io. Its llvm-cov and llvm-profdata must read the profiles of
# the compiler's LLVM: Debian's llvm-N package of the same major version N provides them (the
# rustup component cannot be downloaded here). Instrumented builds go to target/llvm-cov-target;
# the reports to target/coverage/ (an HTML report of each, and the summaries printed).
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO=${CARGO:-cargo}
COVERAGE_VENV=target/coverage-venv
REPORTS=target/coverage
FEATURES=(--features cloacina/arrow,cloacina-python/embed)

llvm_major=$(rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')
llvm_bin=/usr/lib/llvm-${llvm_major}/bin
if [ ! -x "$llvm_bin/llvm-cov" ]; then
  apt-get update -qq && apt-get install -y -qq "llvm-${llvm_major}"
fi
export LLVM_COV="$llvm_bin/llvm-cov" LLVM_PROFDATA="$llvm_bin/llvm-profdata"
command -v cargo-llvm-cov >/dev/null || $CARGO install --quiet --locked cargo-llvm-cov

test -x $COVERAGE_VENV/bin/python || python3 -m venv $COVERAGE_VENV
$COVERAGE_VENV/bin/python -m pip install --quiet --upgrade pip
$COVERAGE_VENV/bin/python -m pip install --quiet -r requirements-test.txt "maturin>=1.9,<2" "coverage>=7.10"

# The instrumenting flags, the profile file pattern and the target directory, for every build
# and run below (cargo, maturin, and the processes the tests start).
eval "$($CARGO llvm-cov show-env --sh)"
$CARGO llvm-cov clean --workspace

echo "== Rust tests"
VIRTUAL_ENV=$(pwd)/$COVERAGE_VENV $CARGO test --quiet --workspace "${FEATURES[@]}"

echo "== Python tests"
export VIRTUAL_ENV=$(pwd)/$COVERAGE_VENV
$COVERAGE_VENV/bin/maturin develop --quiet
for module in examples/hybrid/rust_tasks tests/rust_tasks; do
  $COVERAGE_VENV/bin/maturin develop --quiet -m $module/Cargo.toml
done
$CARGO build --quiet -p hybrid-host
rm -f .coverage .coverage.*
# The package by name (a `--source` of `cloacina` would be the engine's folder here); processes
# the tests start (examples, workers) measured too, by coverage's subprocess patch.
mkdir -p $REPORTS
cat > $REPORTS/coveragerc <<'RC'
[run]
source_pkgs = cloacina
parallel = true
patch = subprocess
# Processes that never import the package (a worker of another tool, say) are not worth a warning.
disable_warnings = module-not-imported, no-data-collected
RC
export COVERAGE_RCFILE=$(pwd)/$REPORTS/coveragerc
$COVERAGE_VENV/bin/python -m coverage run -m pytest -q -p no:cacheprovider tests
$COVERAGE_VENV/bin/python -m coverage combine --quiet

echo "== Rust line coverage (engine, macros, Python bindings)"
# Test code, benchmarks and examples are not what is measured.
ignore='(/tests/|/benches/|/benchmarks/|/examples/|/fuzz/|\.cargo/registry)'
$CARGO llvm-cov report --ignore-filename-regex "$ignore" --html --output-dir $REPORTS/rust >/dev/null
$CARGO llvm-cov report --ignore-filename-regex "$ignore" --summary-only | tee $REPORTS/rust-summary.txt

echo "== Python line coverage (the cloacina package)"
$COVERAGE_VENV/bin/python -m coverage html --quiet -d $REPORTS/python
$COVERAGE_VENV/bin/python -m coverage report | tee $REPORTS/python-summary.txt
rm -f .coverage .coverage.*
# Processes a test started with an environment of its own (no LLVM_PROFILE_FILE) wrote their
# profiles where they ran: not counted, and not left in the tree.
find . -name '*.profraw' -not -path './target/*' -not -path './fuzz/target/*' -delete
