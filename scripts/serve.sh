#!/usr/bin/env bash
# Sets up the tools, then builds the web app in release mode and serves it at
# http://127.0.0.1:8080/ (PORT=... to change), rebuilding when a file changes.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bash "$repo_root/scripts/setup.sh"
cd "$repo_root"
step "serving on http://127.0.0.1:${PORT:-8080}/"
# --no-autoreload: the reload script is inline, which the page's CSP forbids.
with_web_toolchain trunk serve --release --offline --no-autoreload --port "${PORT:-8080}"
