#!/usr/bin/env bash
# Checks the web app's budgets:
#  - the gzipped size of every file in dist/ and the total; the script FAILS (exit 1)
#    when the total exceeds 250 KB, where KB means 1,024 bytes (256,000 bytes);
#  - time to first render in headless Chromium, median of 5 navigations (target:
#    first verdict within 500 ms; printed as a figure, not enforced).
# Needs a release build in dist/ (`trunk build --release`) and scripts/setup.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$repo_root"

[ -f dist/index.html ] || die "no dist/index.html: run \`trunk build --release --offline\` first"

echo "gzipped sizes (gzip -9):"
total=0
while IFS= read -r -d '' file; do
  size=$(gzip -9 -c "$file" | wc -c)
  total=$((total + size))
  printf '  %8d  %s\n' "$size" "${file#dist/}"
done < <(find dist -type f -print0 | sort -z)
# KB = 1,024 bytes.
budget_kb=250
budget_bytes=$((budget_kb * 1024))
printf '  %8d  total (%d.%d KB of 1,024 bytes; budget %d KB = %d bytes)\n' \
  "$total" "$((total / 1024))" "$((total % 1024 * 10 / 1024))" "$budget_kb" "$budget_bytes"

node tests/e2e/budget.mjs

if [ "$total" -gt "$budget_bytes" ]; then
  die "the gzipped page is $total bytes, over the budget of $budget_bytes bytes ($budget_kb KB)"
fi
echo "size budget: ok ($((budget_bytes - total)) bytes to spare)"
