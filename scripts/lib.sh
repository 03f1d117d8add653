# Shared by the scripts in this folder: repository root, PATH and logging.
# Sourced, not run.

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# tests/e2e/node_modules/.bin brings npm's wasm-opt, the version Trunk.toml names.
export PATH="$repo_root/tests/e2e/node_modules/.bin:$HOME/.cargo/bin:$PATH"
# Trunk's update check would reach out to the network on every run.
export TRUNK_SKIP_VERSION_CHECK=true

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
