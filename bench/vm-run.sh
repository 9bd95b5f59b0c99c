#!/usr/bin/env bash
# Benchmark: `cocoon vm run` until the hypervisor answers on its control socket, vs the
# same QEMU command launched by hand with -daemonize (QEMU returns once its sockets
# listen, the same point `vm run` waits for). Prints both and the ratio (target ≤ 1.15).
# Needs the default guest in the bench root (built on first use) and dist/bin.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "bench: hyperfine is missing (apt-get install hyperfine)" >&2; exit 8; }
# shellcheck source=bench/guest-env.sh
source bench/guest-env.sh
RUNS="${RUNS:-10}"
"$c" vm rm --force bench-run >/dev/null 2>&1 || true
"$c" vm rm --force bench-ref >/dev/null 2>&1 || true
"$c" vm create --nics 0 --name bench-ref --cpu 1 --memory 512M --storage 1G default >/dev/null
# The by-hand command: exactly what `vm start` runs for bench-ref, daemonized.
mapfile -t argv < <("$c" vm debug --format json bench-ref | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const a of JSON.parse(s))console.log(a)})')
run_dir=$("$c" vm inspect bench-ref | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).runtime.runDir))')
mkdir -p "$COCOON_LOG_DIR/$(basename "$run_dir")"
printf '%q ' "${argv[@]}" -daemonize > "$ROOT/by-hand.sh"
kill_by_hand="if [ -f $run_dir/hypervisor.pid ]; then kill \$(cat $run_dir/hypervisor.pid) 2>/dev/null || true; while kill -0 \$(cat $run_dir/hypervisor.pid) 2>/dev/null; do sleep 0.01; done; rm -f $run_dir/hypervisor.pid; fi; rm -f $run_dir/*.sock"
kill_cocoon="$c vm rm --force bench-run >/dev/null 2>&1 || true"

hyperfine -N --runs "$RUNS" --export-json "$ROOT/bench-vm-run.json" \
  --prepare "bash -c '$kill_by_hand'" --command-name 'qemu by hand (-daemonize)' "bash $ROOT/by-hand.sh" \
  --prepare "bash -c '$kill_cocoon'" --command-name 'cocoon vm run' "$c vm run --nics 0 --name bench-run --cpu 1 --memory 512M --storage 1G default" \
  >/dev/null
bash -c "$kill_by_hand"; bash -c "$kill_cocoon"; "$c" vm rm --force bench-ref >/dev/null

node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).results;
const ms = (x) => (x * 1000).toFixed(1);
const [hand, run] = r;
console.log("benchmark                         mean ms   stddev");
for (const x of r) console.log(`${x.command.padEnd(32)} ${ms(x.mean).padStart(8)} ${ms(x.stddev).padStart(8)}`);
const ratio = run.mean / hand.mean;
console.log(`ratio cocoon vm run / by hand: ${ratio.toFixed(2)}x (target <= 1.15x: ${ratio <= 1.15 ? "met" : "MISSED"})`);
' "$ROOT/bench-vm-run.json"
