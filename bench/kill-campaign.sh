#!/usr/bin/env bash
# A longer kill campaign than the test suite's (test/e2e/kill-campaign.test.ts kills each
# command 7 times): KILL_ROUNDS kills per command (default 40, i.e. 200) at random moments of
# vm create, vm run, vm rm --force, image import from a file and from stdin, with the same
# checks after every kill. Prints the per-command table; KILL_CAMPAIGN_SEED replays a run.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x dist/bin/cocoon ] || { echo "kill-campaign: dist/bin/cocoon is missing: run npm run build" >&2; exit 1; }
cd test
KILL_ROUNDS=${KILL_ROUNDS:-40} node --import tsx --test e2e/kill-campaign.test.ts 2>&1 | sed -n 's/^# \(kill campaign\|  \)/\1/p;/^not ok/p;/^# \(pass\|fail\)/p'
