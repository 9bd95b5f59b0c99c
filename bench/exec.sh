#!/usr/bin/env bash
# Benchmark: `cocoon vm exec` on a running default-guest VM (QEMU; TCG on this host).
#  - latency of `vm exec VM -- true`, p50/p95 over RUNS (default 100) runs, beside a bare
#    `node -e 0` and `cocoon version` in the same hyperfine run (target: p50 <= node + 60 ms);
#  - where it goes: the guest's share measured without any process start (bench/exec-session.ts:
#    port claim + connect, exec -> started = transport + the guest's fork/exec, started -> exit);
#  - throughput of MIB (default 100) MiB through `cat`, both ways, with the binary data frames
#    `vm exec` negotiates, and with JSON frames (what a Go client or an old agent speaks) on
#    the same channel (`cocoon-agent client --json-frames` on one port of the pool):
#      host->guest: stdin of `… -i -- sh -c 'cat >/dev/null'`
#      guest->host: stdout of `… -- head -c N /dev/zero` into wc.
# COCOON_BENCH_BIN / COCOON_BENCH_ROOT run it against another build (e.g. an older one).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "bench: hyperfine is missing (apt-get install hyperfine)" >&2; exit 8; }
# shellcheck source=bench/guest-env.sh
source bench/guest-env.sh
RUNS="${RUNS:-100}"
MIB="${MIB:-100}"
vm=bench-exec
"$c" vm rm --force "$vm" >/dev/null 2>&1 || true
trap '"$c" vm rm --force "$vm" >/dev/null 2>&1 || true' EXIT
"$c" vm run --nics 0 --wait --wait-timeout 240 --name "$vm" --cpu 1 --memory 512M --storage 1G default >/dev/null 2>&1
run_dir=$("$c" vm inspect "$vm" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).runtime.runDir))')
pool="$run_dir/agent"

hyperfine -N --warmup 5 --runs "$RUNS" --export-json "$ROOT/bench-exec.json" \
  -n 'node -e 0' 'node -e 0' -n 'cocoon version' "$c version" -n 'vm exec -- true' "$c vm exec $vm -- true" >/dev/null

session='null'
if [ -d "$pool" ]; then
  session=$(node --import tsx bench/exec-session.ts "$pool" "$RUNS" true)
fi

bytes=$((MIB * 1048576))
ms_now() { date +%s%N; }
# time_pair CLIENT…: "up_us down_us" of one way to run a command in the VM
time_pair() {
  local t0 t1 up down got
  t0=$(ms_now); head -c "$bytes" /dev/zero | "$@" -i -- sh -c 'cat >/dev/null'; t1=$(ms_now); up=$(( (t1 - t0) / 1000 ))
  t0=$(ms_now); got=$("$@" -- head -c "$bytes" /dev/zero | wc -c); t1=$(ms_now); down=$(( (t1 - t0) / 1000 ))
  [ "$got" -eq "$bytes" ] || { echo "bench: guest->host copy got $got bytes, expected $bytes" >&2; exit 1; }
  echo "$up $down"
}
binary=$(time_pair "$c" vm exec "$vm")
json='null null'
if [ -d "$pool" ]; then
  json=$(time_pair "$BIN/cocoon-agent" client --json-frames --serial "$pool/7.sock")
fi

node -e '
const fs = require("fs");
const [file, mib, bin, json, sess] = process.argv.slice(1);
const r = JSON.parse(fs.readFileSync(file, "utf8")).results;
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] * 1000; };
const [node, version, exec] = r;
const f = (x) => x.toFixed(1);
console.log(`node -e 0                 p50 ${f(pct(node.times, 50))} ms`);
console.log(`cocoon version           p50 ${f(pct(version.times, 50))} ms`);
console.log(`vm exec VM -- true       p50 ${f(pct(exec.times, 50))} ms, p95 ${f(pct(exec.times, 95))} ms`);
const target = pct(node.times, 50) + 60;
console.log(`target p50 <= node + 60 ms = ${f(target)} ms: ${pct(exec.times, 50) <= target ? "met" : "MISSED"}`);
const s = JSON.parse(sess);
if (s) {
  const front = pct(version.times, 50) - pct(node.times, 50);
  const rest = pct(exec.times, 50) - pct(version.times, 50) - s.p50;
  console.log("breakdown of the p50 (ms):");
  console.log(`  node start                              ${f(pct(node.times, 50))}`);
  console.log(`  cocoon start (version - node)           ${f(front)}`);
  console.log(`  ref lookup, config, client, exit (rest) ${f(rest)}`);
  console.log(`  port claim + connect                    ${f(s.claim_connect_p50)}`);
  console.log(`  exec -> started (transport, guest fork) ${f(s.exec_to_started_p50)}`);
  console.log(`  started -> exit frame                   ${f(s.started_to_exit_p50)}`);
}
const rate = (us) => (us === "null" ? "-" : `${(Number(mib) / (Number(us) / 1e6)).toFixed(1)} MiB/s`);
const [bu, bd] = bin.split(" "); const [ju, jd] = json.split(" ");
console.log(`cat ${mib} MiB host->guest: vm exec ${rate(bu)}, JSON frames on the same channel ${rate(ju)}`);
console.log(`cat ${mib} MiB guest->host: vm exec ${rate(bd)}, JSON frames on the same channel ${rate(jd)}`);
' "$ROOT/bench-exec.json" "$MIB" "$binary" "$json" "$session"
