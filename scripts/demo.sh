#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine, as root: install what is missing, build,
# build + import the default guest, run it, show its console proving it booted, stop it
# gracefully and remove it; on the way, run a command in it through the guest agent. Uses the default layout (/var/lib/cocoon, /var/log/cocoon).
set -euo pipefail
cd "$(dirname "$0")/.."

bash doctor/cocoon-doctor install
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run build
export PATH="$PWD/dist/bin:$PATH"

cocoon image build-default
cocoon vm rm --force demo >/dev/null 2>&1 || true
cocoon vm run --nics 0 --name demo --cpu 1 --memory 512M --storage 2G default
console_log=$(cocoon vm inspect demo | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).runtime.consoleLog))')

echo "--- waiting for the guest (software emulation here can take a minute) ---"
for _ in $(seq 1 300); do
  grep -q 'cocoon: guest ready' "$console_log" 2>/dev/null && break
  sleep 1
done
echo "--- guest console ($console_log) ---"
tail -n 25 "$console_log"
grep -q 'cocoon: guest ready' "$console_log" || { echo "demo: the guest did not become ready" >&2; exit 1; }
echo "--- the guest agent answers (no SSH): cocoon vm exec demo -- uname -a ---"
cocoon vm exec --wait-timeout 120 demo -- uname -a
echo "---"
cocoon vm list --format table
cocoon vm stop demo
cocoon vm rm demo
echo "demo: done"
