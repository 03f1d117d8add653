#!/usr/bin/env bash
# Checks the web app's budgets:
#  - the gzipped size of every file in dist/ the page loads at start and their
#    total, against the budget, 250 KB where KB means 1,024 bytes (256,000
#    bytes): the script FAILS (exit 1) above it;
#  - apart, the files loaded on demand (the sosreport worker, fetched when an
#    archive is dropped, and the releases worker, fetched when a check first
#    asks for an older libvirt or QEMU release) and their total, against their
#    own budget (enforced);
#  - time to first render in headless Chromium, median of 5 navigations (target:
#    first verdict within 500 ms; printed as a figure, not enforced).
# Needs a release build in dist/ (`with_web_toolchain trunk build --release`, as
# scripts/test.sh runs it) and scripts/setup.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$repo_root"

[ -f dist/index.html ] ||
  die "no dist/index.html: build it first (scripts/test.sh does), or: source scripts/lib.sh; with_web_toolchain trunk build --release --offline"

# --- files loaded on demand (the two workers) ------------------------------------
# The sosreport worker (crates/sosreport-worker: its loader, its bindings and its
# WebAssembly) and web/sosreport.js, which starts it, are fetched only when an
# sosreport archive is dropped; the releases worker (crates/releases-worker)
# only when a check first asks for an older libvirt or QEMU release. They are
# not part of the page loaded at start: they are listed apart, together against
# one budget, and the page's total below counts only what loads at start.
on_demand=(-name "guestcpu-sosreport-worker*" -o -name "sosreport.js" -o -name "guestcpu-releases-worker*")
on_demand_budget_kb=250
on_demand_budget_bytes=$((on_demand_budget_kb * 1024))
check_on_demand() {
  local file size on_demand_total=0
  echo "gzipped sizes loaded on demand (gzip -9; the two workers):"
  while IFS= read -r -d '' file; do
    size=$(gzip -9 -c "$file" | wc -c)
    on_demand_total=$((on_demand_total + size))
    printf '  %8d  %s\n' "$size" "${file#dist/}"
  done < <(find dist -type f \( "${on_demand[@]}" \) -print0 | sort -z)
  [ -f dist/guestcpu-sosreport-worker_bg.wasm ] || die "no sosreport worker in dist/"
  [ -f dist/guestcpu-releases-worker_bg.wasm ] || die "no releases worker in dist/"
  printf '  %8d  total on demand (budget %d KB = %d bytes)\n' \
    "$on_demand_total" "$on_demand_budget_kb" "$on_demand_budget_bytes"
  if [ "$on_demand_total" -gt "$on_demand_budget_bytes" ]; then
    die "the workers are $on_demand_total bytes gzipped, over their budget of $on_demand_budget_bytes bytes"
  fi
  echo "on-demand budget: ok ($((on_demand_budget_bytes - on_demand_total)) bytes to spare)"
}
check_on_demand
# --- end of the files loaded on demand ------------------------------------------

echo "gzipped sizes loaded at start (gzip -9):"
total=0
while IFS= read -r -d '' file; do
  size=$(gzip -9 -c "$file" | wc -c)
  total=$((total + size))
  printf '  %8d  %s\n' "$size" "${file#dist/}"
done < <(find dist -type f ! \( "${on_demand[@]}" \) -print0 | sort -z)
# KB = 1,024 bytes.
budget_kb=250
budget_bytes=$((budget_kb * 1024))
printf '  %8d  total (%d.%d KB of 1,024 bytes; budget %d KB = %d bytes)\n' \
  "$total" "$((total / 1024))" "$((total % 1024 * 10 / 1024))" "$budget_kb" "$budget_bytes"

node tests/e2e/budget.mjs

if [ "$total" -le "$budget_bytes" ]; then
  echo "size budget: ok ($((budget_bytes - total)) bytes to spare)"
  exit 0
fi
die "the gzipped page is $total bytes, over its budget of $budget_bytes bytes by $((total - budget_bytes)): shrink it"
