#!/usr/bin/env bash
# Every benchmark, one after the other; each prints its own table with ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
bash bench/startup.sh
bash bench/vm-run.sh
bash bench/pull.sh
bash bench/snapshot.sh
bash bench/headroom.sh
bash bench/exec.sh
bash bench/density.sh
bash bench/net.sh
bash bench/ops.sh
