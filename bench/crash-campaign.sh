#!/usr/bin/env bash
# The crash campaign at full size: test/e2e/crash-campaign.test.ts with CRASH_KILLS kills per
# command (default 56: 9 commands × 56 = 504 kills that land mid-command), each followed by
# `cocoon gc`, the store checks and the same command again; then the concurrency test
# (30 parallel creates with a gc loop). Prints the per-command table; KILL_CAMPAIGN_SEED
# replays a run. Takes about 15-20 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x dist/bin/cocoon ] || { echo "crash-campaign: dist/bin/cocoon is missing: run npm run build" >&2; exit 1; }
cd test
start=$(date +%s)
CRASH_KILLS=${CRASH_KILLS:-56} node --import tsx --test --test-timeout=7200000 e2e/crash-campaign.test.ts 2>&1 |
  sed -n 's/^# \(kill campaign\|  \)/\1/p;/^not ok/p;/^    not ok/p;/^# \(pass\|fail\)/p'
echo "crash-campaign: $(( $(date +%s) - start )) s"
