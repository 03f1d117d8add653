# Shared by the scripts in this folder: repository root, PATH and logging.
# Sourced, not run.

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# tests/e2e/node_modules/.bin brings npm's wasm-opt, the version Trunk.toml names.
export PATH="$repo_root/tests/e2e/node_modules/.bin:$HOME/.cargo/bin:$PATH"
# Trunk's update check would reach out to the network on every run.
export TRUNK_SKIP_VERSION_CHECK=true

# The web app's two WebAssembly modules (crates/web and crates/sosreport-worker,
# which Trunk builds from index.html) are built with this nightly, pinned by date,
# for flags stable Rust lacks (see `with_web_toolchain`); everything else (the
# CLI, the engine, the tests, clippy) builds with the stable toolchain.
web_toolchain=nightly-2026-05-20

# Runs a command (every `trunk` run, and setup.sh's fetch of what it builds) with
# the web build's toolchain and flags: the standard library rebuilt with the
# page's profile and `optimize_for_size`, panics that trap at once with nothing
# formatted (`-Cpanic=immediate-abort`) and no file/line/column in the module
# (`-Zlocation-detail=none`). The flags apply to wasm32 only, never to build
# scripts or proc-macros. 298,168 B -> 276,988 B gzipped for the page's module
# (README, "Budgets").
with_web_toolchain() {
  RUSTUP_TOOLCHAIN="$web_toolchain" \
    CARGO_UNSTABLE_BUILD_STD=std,panic_abort \
    CARGO_UNSTABLE_BUILD_STD_FEATURES=optimize_for_size \
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none" \
    "$@"
}

step() { printf '\n==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The `wasm-bindgen` version that Cargo.lock resolved (pinned in crates/web/Cargo.toml).
locked_wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' \
    "$repo_root/Cargo.lock"
}

# A tool version from Trunk.toml's [tools] table, e.g. `trunk_tool_version wasm_opt`.
trunk_tool_version() {
  awk -v key="$1" '$1 == key { gsub(/"/, "", $3); print $3; exit }' "$repo_root/Trunk.toml"
}

# `sudo` when not root and sudo exists; CI runs as root.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
