#!/usr/bin/env bash
# Benchmark: network setup + teardown of one VM with 1, 4 and 16 NICs: `cocoon net add` +
# `cocoon net del` (per-VM netns, the CNI bridge plugin per NIC, TAP + TC redirect, the
# networks index) against the same steps by hand (bench/net/by-hand.sh: the plugin called
# directly, then one ip/tc command per step). Runs inside a namespace of its own
# (cnet-bench-<pid>, addresses 198.18.64.0/18); the machine's own is never touched.
# Prints both means and the ratio per NIC count (target ≤ 1.5x).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "bench: hyperfine is missing (apt-get install hyperfine)" >&2; exit 8; }
BIN="$PWD/dist/bin"
[ -x "$BIN/cocoon" ] || { echo "bench: $BIN/cocoon is missing: run npm run build" >&2; exit 8; }
RUNS="${RUNS:-10}"
CNI_BIN="${CNI_BIN:-/usr/lib/cni}"
ns=cnet-bench-$$
work=$(mktemp -d)
cleanup() { ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
mkdir -p "$work/conf"
plugin='{"type":"bridge","bridge":"cnbench0","isGateway":true,"ipMasq":false,"ipam":{"type":"host-local","ranges":[[{"subnet":"198.18.64.0/18"}]],"dataDir":"'"$work"'/ipam"}}'
echo "{\"cniVersion\":\"1.0.0\",\"name\":\"bench\",\"plugins\":[$plugin]}" >"$work/conf/10-bench.conflist"
echo "$plugin" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.stringify({cniVersion:"1.0.0",name:"bench",...JSON.parse(s)})))' >"$work/plugin.json"
export COCOON_ROOT_DIR="$work/root" COCOON_RUN_DIR="$work/run" COCOON_LOG_DIR="$work/log" COCOON_CNI_CONF_DIR="$work/conf" COCOON_CNI_BIN_DIR="$CNI_BIN"
id_hand=aaaaaaaa00000000000000000000000$RANDOM
id_hand=${id_hand: -32}
id_ours=bbbbbbbb00000000000000000000000$RANDOM
id_ours=${id_ours: -32}
for n in 1 4 16; do
  nsenter --net="/var/run/netns/$ns" hyperfine -N --warmup 1 --runs "$RUNS" --export-json "$work/net-$n.json" \
    --command-name "by hand, $n NIC(s)" "bash bench/net/by-hand.sh $id_hand $n $work/plugin.json $CNI_BIN" \
    --command-name "cocoon net, $n NIC(s)" "bash bench/net/cocoon.sh $BIN/cocoon-net $id_ours $n" >/dev/null
done
node -e '
const fs = require("fs");
console.log("network setup + teardown per VM      by hand ms   cocoon ms   ratio");
for (const n of [1, 4, 16]) {
  const [hand, ours] = JSON.parse(fs.readFileSync(`${process.argv[1]}/net-${n}.json`, "utf8")).results;
  const ratio = ours.mean / hand.mean;
  console.log(`${String(n).padStart(2)} NIC(s)${" ".repeat(29)}${(hand.mean * 1000).toFixed(0).padStart(10)} ${(ours.mean * 1000).toFixed(0).padStart(11)}   ${ratio.toFixed(2)}x (target <= 1.5x: ${ratio <= 1.5 ? "met" : "MISSED"})`);
}
' "$work"
