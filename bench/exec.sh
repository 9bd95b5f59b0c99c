#!/usr/bin/env bash
# Benchmark: `cocoon vm exec` on a running default-guest VM (QEMU; TCG on this host).
#  - round-trip latency of `vm exec VM -- true`, p50/p95 over RUNS (default 200) runs:
#    the whole CLI start + agent socket + relay + virtio-serial + guest spawn + exit;
#  - throughput of 100 MiB through `cat`, both ways:
#      host→guest: stdin of `vm exec -i VM -- sh -c 'cat >/dev/null'`
#      guest→host: stdout of `vm exec VM -- head -c 100M /dev/zero` into /dev/null.
# Needs dist/bin (npm run build); the default guest is built on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/guest-env.sh
source bench/guest-env.sh
RUNS="${RUNS:-200}"
MIB="${MIB:-100}"
vm=bench-exec
"$c" vm rm --force "$vm" >/dev/null 2>&1 || true
trap '"$c" vm rm --force "$vm" >/dev/null 2>&1 || true' EXIT
"$c" vm run --nics 0 --wait --wait-timeout 180 --name "$vm" --cpu 1 --memory 512M --storage 1G default >/dev/null

ms_now() { date +%s%N; }
samples="$ROOT/bench-exec-latency.txt"
: >"$samples"
for _ in $(seq "$RUNS"); do
  t0=$(ms_now)
  "$c" vm exec "$vm" -- true
  t1=$(ms_now)
  echo $(( (t1 - t0) / 1000 )) >>"$samples"
done

bytes=$((MIB * 1048576))
t0=$(ms_now)
head -c "$bytes" /dev/zero | "$c" vm exec -i "$vm" -- sh -c 'cat >/dev/null'
t1=$(ms_now)
up_us=$(( (t1 - t0) / 1000 ))
t0=$(ms_now)
got=$("$c" vm exec "$vm" -- head -c "$bytes" /dev/zero | wc -c)
t1=$(ms_now)
down_us=$(( (t1 - t0) / 1000 ))
[ "$got" -eq "$bytes" ] || { echo "bench: guest→host copy got $got bytes, expected $bytes" >&2; exit 1; }

node -e '
const [file, runs, mib, up, down] = process.argv.slice(1);
const us = require("fs").readFileSync(file, "utf8").trim().split("\n").map(Number).sort((a, b) => a - b);
const pct = (p) => us[Math.min(us.length - 1, Math.ceil((p / 100) * us.length) - 1)] / 1000;
console.log(`vm exec -- true, ${runs} runs: p50 ${pct(50).toFixed(1)} ms, p95 ${pct(95).toFixed(1)} ms, min ${(us[0] / 1000).toFixed(1)} ms, max ${(us[us.length - 1] / 1000).toFixed(1)} ms`);
const rate = (u) => (Number(mib) / (Number(u) / 1e6)).toFixed(1);
console.log(`cat ${mib} MiB host→guest (stdin):  ${(Number(up) / 1e6).toFixed(2)} s, ${rate(up)} MiB/s`);
console.log(`cat ${mib} MiB guest→host (stdout): ${(Number(down) / 1e6).toFixed(2)} s, ${rate(down)} MiB/s`);
' "$samples" "$RUNS" "$MIB" "$up_us" "$down_us"
