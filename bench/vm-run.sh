#!/usr/bin/env bash
# Benchmark: `cocoon vm run` until the hypervisor answers on its control socket, vs the
# same QEMU command launched by hand with -daemonize (QEMU returns once its sockets
# listen, the same point `vm run` waits for), and a bare `node -e 0` in the same run.
# Prints the three, then:
#   - the ratio vm run / by hand (the old target: <= 1.15x);
#   - the time vm run ADDS over the hand-launched QEMU, in units of a bare Node start
#     (issue 13's target: <= 1.5 node starts).
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
mkdir -p "$COCOON_LOG_DIR/$(basename "$run_dir")" "$run_dir/agent"
printf '%q ' "${argv[@]}" -daemonize > "$ROOT/by-hand.sh"
kill_by_hand="if [ -f $run_dir/hypervisor.pid ]; then kill \$(cat $run_dir/hypervisor.pid) 2>/dev/null || true; while [ -f $run_dir/hypervisor.pid ] && kill -0 \$(cat $run_dir/hypervisor.pid 2>/dev/null) 2>/dev/null; do sleep 0.01; done; rm -f $run_dir/hypervisor.pid; fi; rm -f $run_dir/*.sock $run_dir/agent/*"
kill_cocoon="$c vm rm --force bench-run >/dev/null 2>&1 || true"
# NOTE: each prepare ends every VM the runs left (the last hand-launched QEMU too): a guest
# booting under TCG takes a whole core, which would slow the next command measured.
# A first run makes the COW template of this size (once per size, like any host's first VM).
"$c" vm run --nics 0 --name bench-run --cpu 1 --memory 512M --storage 1G default >/dev/null && bash -c "$kill_cocoon"

hyperfine -N --runs "$RUNS" --export-json "$ROOT/bench-vm-run.json" \
  --prepare 'true' --command-name 'node -e 0' 'node -e 0' \
  --prepare "bash -c '$kill_by_hand'" --command-name 'qemu by hand (-daemonize)' "bash $ROOT/by-hand.sh" \
  --prepare "bash -c '$kill_by_hand; $kill_cocoon'" --command-name 'cocoon vm run' "$c vm run --nics 0 --name bench-run --cpu 1 --memory 512M --storage 1G default" \
  >/dev/null
bash -c "$kill_by_hand"; bash -c "$kill_cocoon"; "$c" vm rm --force bench-ref >/dev/null

node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).results;
const ms = (x) => (x * 1000).toFixed(1);
const [node, hand, run] = r;
console.log("benchmark                         mean ms   median   stddev");
for (const x of r) console.log(`${x.command.padEnd(32)} ${ms(x.mean).padStart(8)} ${ms(x.median).padStart(8)} ${ms(x.stddev).padStart(8)}`);
const ratio = run.median / hand.median;
const added = (run.median - hand.median) / node.median;
console.log(`ratio cocoon vm run / by hand (medians): ${ratio.toFixed(2)}x (old target <= 1.15x: ${ratio <= 1.15 ? "met" : "MISSED"})`);
console.log(`time vm run adds over QEMU by hand: ${ms(run.median - hand.median)} ms = ${added.toFixed(2)} node starts (target <= 1.5: ${added <= 1.5 ? "met" : "MISSED"})`);
' "$ROOT/bench-vm-run.json"
