#!/usr/bin/env bash
# Prints the web app's budgets (figures, not a pass/fail test):
#  - the gzipped size of every file in dist/ and the total (target: 250 KB or less);
#  - time to first render in headless Chromium, median of 5 navigations (target:
#    first verdict within 500 ms).
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
printf '  %8d  total (%d KB; budget 250 KB)\n' "$total" "$((total / 1024))"

node tests/e2e/budget.mjs
