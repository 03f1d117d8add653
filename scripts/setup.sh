#!/usr/bin/env bash
# Installs everything the build and the tests need, and nothing twice: on a warm
# machine every step is a version check. Tools come only from rustup (the
# toolchains) and package registries (crates.io, Debian, npm); no step downloads
# a prebuilt tool binary or a browser.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$repo_root"

readonly trunk_version=0.21.14

# Builds of tools we only run, never ship: skip fat LTO and single-unit codegen,
# which cost most of their compile time on a 2-core machine.
cargo_install() {
  CARGO_PROFILE_RELEASE_LTO=false \
    CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    CARGO_PROFILE_RELEASE_OPT_LEVEL=2 \
    CARGO_PROFILE_RELEASE_DEBUG=false \
    cargo install "$@"
}

step "rust target wasm32-unknown-unknown"
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

step "rust $web_toolchain for the web app's WebAssembly: rust-src, wasm32-unknown-unknown"
if ! rustup component list --toolchain "$web_toolchain" --installed 2>/dev/null | grep -qx rust-src ||
  ! rustup target list --toolchain "$web_toolchain" --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  rustup toolchain install "$web_toolchain" --profile minimal \
    --component rust-src --target wasm32-unknown-unknown
fi

step "trunk $trunk_version"
if [ "$("$HOME/.cargo/bin/trunk" --version 2>/dev/null)" != "trunk $trunk_version" ]; then
  cargo_install --locked "trunk@$trunk_version"
fi

bindgen_version="$(locked_wasm_bindgen_version)"
[ -n "$bindgen_version" ] || die "no wasm-bindgen in Cargo.lock"
[ "$(trunk_tool_version wasm_bindgen)" = "$bindgen_version" ] ||
  die "Trunk.toml [tools] wasm_bindgen must be $bindgen_version, as in Cargo.lock"
step "wasm-bindgen-cli $bindgen_version"
if [ "$("$HOME/.cargo/bin/wasm-bindgen" --version 2>/dev/null)" != "wasm-bindgen $bindgen_version" ]; then
  # Its lock file sometimes pins a crate version that was since yanked.
  cargo_install --locked "wasm-bindgen-cli@$bindgen_version" ||
    cargo_install --force "wasm-bindgen-cli@$bindgen_version"
fi

step "Debian package: chromium"
if ! command -v chromium >/dev/null; then
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium
fi

step "node packages in tests/e2e: playwright-core, binaryen (wasm-opt)"
e2e="$repo_root/tests/e2e"
stamp="$e2e/node_modules/.package-lock.json"
if [ ! -f "$stamp" ] || [ "$e2e/package-lock.json" -nt "$stamp" ]; then
  (cd "$e2e" && npm ci --no-audit --no-fund --loglevel=error)
fi
wasm_opt_version="$(wasm-opt --version | grep -oE 'version_[0-9]+')"
[ "$wasm_opt_version" = "$(trunk_tool_version wasm_opt)" ] ||
  die "wasm-opt is $wasm_opt_version but Trunk.toml [tools] asks for $(trunk_tool_version wasm_opt)"

step "crates (so that Trunk can build with --offline)"
cargo fetch --locked
# The web build's own: the crates of the standard library it rebuilds (dlmalloc
# and the others its library/Cargo.lock names) with the workspace's for wasm32.
with_web_toolchain cargo fetch --locked --target wasm32-unknown-unknown

step "setup done"
