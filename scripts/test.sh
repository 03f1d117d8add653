#!/usr/bin/env bash
# Runs every check and test the project has, in the order CI runs them, and ends
# with one line `N passed, N failed` counting the tests of cargo and of node.
#
#   setup → fmt → clippy → fuzz targets compile → cargo test → core for wasm32 → docs
#         → trunk release build → end-to-end tests in Chromium → size/time budget
#
# A failing check stops the run at once; failing tests (cargo's or the browser's)
# and a page over its size budget (scripts/budget.sh; the two workers, loaded on
# demand, against their own budget) are counted, the remaining steps still run, and the
# script exits non-zero.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$repo_root"

logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT

# Runs a command and prints how long it took; returns the command's status.
timed() {
  local started=$SECONDS status=0
  "$@" || status=$?
  printf '    (%ds)\n' "$((SECONDS - started))"
  return "$status"
}

# Sums "N passed"/"N failed" over every test-runner summary in the logs.
count() {
  local what="$1"
  {
    grep -hoE "^test result: .* [0-9]+ $what" "$logs"/cargo-test.log 2>/dev/null |
      grep -oE "[0-9]+ $what\$" | grep -oE '^[0-9]+'
    local node_word="pass"
    [ "$what" = failed ] && node_word="fail"
    grep -hoE "^ℹ $node_word [0-9]+" "$logs"/e2e.log 2>/dev/null | grep -oE '[0-9]+$'
  } | awk '{ total += $1 } END { print total + 0 }'
}

step "setup"
timed bash scripts/setup.sh

step "cargo fmt --check"
timed cargo fmt --all --check
timed cargo fmt --manifest-path fuzz/Cargo.toml --check

step "cargo clippy (all targets, warnings are errors)"
timed cargo clippy --workspace --all-targets --locked -- -D warnings

step "fuzz targets compile (fuzz/ is its own workspace)"
timed cargo check --manifest-path fuzz/Cargo.toml --bins --locked

step "cargo test"
cargo_status=0
timed cargo test --workspace --locked 2>&1 | tee "$logs/cargo-test.log" || cargo_status=$?

step "guestcpu-core for wasm32-unknown-unknown"
timed cargo build -p guestcpu-core --target wasm32-unknown-unknown --locked

step "cargo doc (warnings are errors)"
RUSTDOCFLAGS="-D warnings" timed cargo doc --workspace --no-deps --locked

step "trunk build --release"
timed with_web_toolchain trunk build --release --offline

step "end-to-end tests (headless Chromium)"
e2e_status=0
(cd tests/e2e && timed node --test --test-concurrency=1 --test-reporter=spec ./*.test.mjs) \
  2>&1 | tee "$logs/e2e.log" || e2e_status=$?

step "budget (a page over its size limit fails the run; the time is a figure)"
budget_status=0
bash scripts/budget.sh || budget_status=$?

passed="$(count passed)"
failed="$(count failed)"
# A runner that failed without a summary (e.g. a test did not compile) counts once.
if [ "$cargo_status" -ne 0 ] || [ "$e2e_status" -ne 0 ]; then
  [ "$failed" -gt 0 ] || failed=1
fi
# The size limit is one check of its own.
if [ "$budget_status" -ne 0 ]; then
  echo "budget: FAILED (see above)"
  failed=$((failed + 1))
fi
printf '\n%s passed, %s failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ]
