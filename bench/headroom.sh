#!/usr/bin/env bash
# Benchmark: the cost of the room every QEMU launch reserves to grow live (vCPUs, memory, NICs),
# against the same command line without it, under TCG (ROUNDS boots per variant, alternating).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/guest-env.sh
source bench/guest-env.sh
node --import tsx bench/headroom.ts "$c" "${ROUNDS:-5}"
