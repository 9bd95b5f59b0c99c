#!/usr/bin/env bash
# The whole test suite, from a fresh clone on a fresh Debian 12 machine, as root:
# installs the host packages, the npm dependencies, builds, then runs every package's
# unit and CLI tests and the end-to-end suites that boot real guests under QEMU.
set -euo pipefail
cd "$(dirname "$0")/.."

bash doctor/cocoon-doctor install
npm ci --no-audit --no-fund
npm run build
export TURBO_TELEMETRY_DISABLED=1
npx turbo run typecheck lint --log-order=grouped
npx turbo run test --concurrency=1 --log-order=stream
node --import tsx --test doctor/cocoon-doctor.test.ts scripts/package.test.ts scripts/release.test.ts
npm run e2e --workspace test
