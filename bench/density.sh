#!/usr/bin/env bash
# Benchmark: density. For each image variant, boots 1, 2 and 4 idle default-guest VMs
# (QEMU; TCG here) and reports:
#   - host memory: the sum of PSS of every host process of the VMs (QEMU, and a relay where
#     a build has one), and what each additional VM costs: (PSS(4) - PSS(1)) / 3;
#   - in the guest (first VM): the agent's RSS / anonymous / file memory, the guest's page
#     cache, and what it does with the agent layer (pmem + DAX, or a block device);
#   - the agent layer's size on disk.
# Variants (IMAGES, default "default default-lz4hc"): `default` maps the agent layer from the
# host's page cache with DAX (virtio-pmem); `default-lz4hc` is the same guest with that layer
# compressed (LZ4HC) on a block device, built here with `build-default --agent-layer lz4hc`.
# COCOON_BENCH_BIN / COCOON_BENCH_ROOT measure another build (IMAGES=default there).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/guest-env.sh
source bench/guest-env.sh
IMAGES="${IMAGES:-default default-lz4hc}"
COUNTS="${COUNTS:-1 2 4}"
SETTLE="${SETTLE:-20}"
out="$ROOT/bench-density.ndjson"
: >"$out"

for image in $IMAGES; do
  if [ "$image" = default-lz4hc ] && ! "$c" image inspect default-lz4hc >/dev/null 2>&1; then
    "$c" image build-default --agent-layer lz4hc --output "$ROOT/default-lz4hc.oci.tar" >/dev/null
    "$c" image import default-lz4hc "$ROOT/default-lz4hc.oci.tar" >/dev/null
    rm -f "$ROOT/default-lz4hc.oci.tar"
  fi
done

cleanup() { for i in 1 2 3 4; do "$c" vm rm --force "bench-density-$i" >/dev/null 2>&1 || true; done; }
trap cleanup EXIT

for image in $IMAGES; do
  # The agent layer's EROFS disk: <hex>.erofs, or <hex>.<layout>.erofs for a dax / lz4hc layout.
  layer=$("$c" image inspect "$image" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const l=JSON.parse(s).layers.at(-1);console.log(l.digest.split(":")[1]+(l.erofs&&l.erofs!=="plain"?"."+l.erofs:""))})')
  disk="$COCOON_ROOT_DIR/images/blobs/sha256/$layer.erofs"
  for n in $COUNTS; do
    cleanup
    for i in $(seq 1 "$n"); do "$c" vm run --nics 0 --name "bench-density-$i" --cpu 1 --memory 512M --storage 1G "$image" >/dev/null 2>&1; done
    for i in $(seq 1 "$n"); do "$c" vm exec --wait-timeout 300 "bench-density-$i" -- true >/dev/null; done
    # Idle: let boot-time work (page cache churn, lazy ext4 init) settle first.
    sleep "$SETTLE"
    dirs=()
    for i in $(seq 1 "$n"); do dirs+=("$("$c" vm inspect "bench-density-$i" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).runtime.runDir))')"); done
    # (`|| true`: grep -c prints 0 and exits 1 in a guest without DAX mounts)
    guest=$("$c" vm exec bench-density-1 -- sh -c 'p=$(cat /run/cocoon-agent.pid); grep -E "^(VmRSS|RssAnon|RssFile):" /proc/$p/status; grep -E "^(MemTotal|MemFree|Cached):" /proc/meminfo; grep -c "dax=always" /proc/mounts || true')
    node bench/density-report.mjs sample "$image" "$n" "$disk" "$guest" "${dirs[@]}" >>"$out"
  done
done
cleanup
node bench/density-report.mjs report "$out"
