#!/usr/bin/env bash
# Operating commands on the packaged executable, against a bare Node start:
#   node -e 0                          the floor
#   cocoon version                     start-up
#   cocoon __complete vm               what a shell's Tab runs (names from 1,000 VM records)
#   cocoon vm list --format json       1,000 VMs, every record parsed
#   cocoon gc --dry-run                one full gc cycle over the same store (locks, every index, dirs)
# with ratios (bench/startup-report.mjs), then vm status event latency (bench/status-latency.ts)
# and the release tarball's size against the executable. Env: BENCH_RUNS (20), BENCH_VMS (1000).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
exe="$repo/dist/bin/cocoon"
[[ -x $exe ]] || { echo "bench/ops: $exe is missing: run \"npm run build\" first" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "bench/ops: hyperfine is missing (Debian package hyperfine; doctor/cocoon-doctor install)" >&2; exit 1; }
work=$(mktemp -d /tmp/cocoon-bench-ops.XXXXXX)
trap 'rm -rf -- "$work"' EXIT
export COCOON_ROOT_DIR="$work/root" COCOON_RUN_DIR="$work/root/run" COCOON_LOG_DIR="$work/log"
node --import tsx "$here/gen-vms.ts" "$COCOON_ROOT_DIR" "${BENCH_VMS:-1000}"
hyperfine -N --style none --warmup 3 --runs "${BENCH_RUNS:-20}" --export-json "$work/ops.json" \
  -n 'node -e 0' 'node -e 0' \
  -n 'cocoon version' "$exe version" \
  -n 'cocoon __complete vm (1,000 VMs)' "$exe __complete vm" \
  -n 'cocoon vm list --format json (1,000 VMs)' "$exe vm list --format json" \
  -n 'cocoon gc --dry-run (1,000 VMs)' "$exe gc --dry-run" >/dev/null
node "$here/startup-report.mjs" "$work/ops.json" || true
echo
(cd "$repo" && node --import tsx bench/status-latency.ts)
echo
node "$repo/scripts/release.mjs" --out "$work/release" 2>&1 | sed 's/^release: /release tarball: /'
