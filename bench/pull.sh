#!/usr/bin/env bash
# Pull benchmark: `cocoon-image pull` against `skopeo copy docker://… oci:…` from the same
# local registry (Debian's docker-registry on 127.0.0.1), then the dedup check.
#
#   bash bench/pull.sh        (needs docker-registry, skopeo, hyperfine, mkfs.erofs, curl)
#
# Image 1: a kernel-shaped layer + 4 layers of 56 MiB of random (incompressible) data (≈ 224
# MiB; skopeo gzips them on push). Image 2: the same layers but the last, replaced by 16 MiB.
# Prints, with the ratio to the target (≤ 1.0):
#   - full pull (download + EROFS conversion + record) vs skopeo (download only), wall clock;
#   - cocoon's download phase alone (first download start → last download done, from the
#     `--progress json` events; excludes process start-up and the manifest fetch) vs skopeo;
#   - the bytes the second pull downloaded, which must equal the one new layer's size.
# Env: BENCH_RUNS (hyperfine runs, default 3), BENCH_BUNDLE=1 (see below).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
runs=${BENCH_RUNS:-3}
die() { echo "bench/pull: $*" >&2; exit 1; }
for tool in docker-registry:docker-registry skopeo:skopeo hyperfine:hyperfine mkfs.erofs:erofs-utils curl:curl; do
  command -v "${tool%%:*}" >/dev/null || die "${tool%%:*} is missing (Debian package ${tool##*:})"
done

# The executable: the packaged one when it is current (knows --progress), else the bundle;
# BENCH_BUNDLE=1 rebuilds and uses the bundle of the working tree (to measure source changes).
if [[ ${BENCH_BUNDLE:-0} == 1 ]]; then
  (cd "$repo" && npm run build -w @cocoon/cocoon-image >/dev/null 2>&1)
  export COCOON_NATIVE_ADDON=${COCOON_NATIVE_ADDON:-$repo/libs/common/build/Release/cocoon_native.node}
  image=(node "$repo/bins/cocoon-image/dist/cocoon-image.cjs")
elif [[ -x $repo/dist/bin/cocoon-image ]] && "$repo/dist/bin/cocoon-image" pull --help 2>&1 | grep -q -- --progress; then
  image=("$repo/dist/bin/cocoon-image")
else
  [[ -f $repo/bins/cocoon-image/dist/cocoon-image.cjs ]] || (cd "$repo" && npm run build -w @cocoon/cocoon-image >/dev/null)
  image=(node "$repo/bins/cocoon-image/dist/cocoon-image.cjs")
fi

work=$(mktemp -d /tmp/cocoon-bench-pull.XXXXXX)
registry_pid=""
cleanup() {
  if [[ -n $registry_pid ]]; then kill "$registry_pid" 2>/dev/null || true; fi
  rm -rf -- "$work"
}
trap cleanup EXIT

echo "bench/pull: making the images (random data) and pushing them…" >&2
"$here/pull/make-layout.sh" "$work/img1" v1 one 56 56 56 56
# Image 2 reuses image 1's layer tars except the last.
mapfile -t tars < <(node -e '
  const fs = require("fs"), dir = process.argv[1];
  const idx = JSON.parse(fs.readFileSync(dir + "/index.json"));
  const blob = (d) => dir + "/blobs/sha256/" + d.slice(7);
  const m = JSON.parse(fs.readFileSync(blob(idx.manifests[0].digest)));
  for (const l of m.layers) console.log(blob(l.digest));' "$work/img1")
BOOT_TAR=${tars[0]} "$here/pull/make-layout.sh" "$work/img2" v1 two "${tars[1]}" "${tars[2]}" "${tars[3]}" 16

read -r registry_pid host < <("$here/pull/registry.sh" "$work/registry")
for i in 1 2; do
  skopeo copy --quiet --dest-tls-verify=false "oci:$work/img$i:v1" "docker://$host/bench/img:v$i"
done
# NOTE: skopeo gzips uncompressed layers when it pushes, so sizes come from the registry's manifests.
for i in 1 2; do
  curl -fsS -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$host/v2/bench/img/manifests/v$i" >"$work/manifest$i.json"
done
read -r total new_layer_size < <(node -e '
  const fs = require("fs");
  const [a, b] = process.argv.slice(1).map((f) => JSON.parse(fs.readFileSync(f)).layers);
  const old = new Set(a.map((l) => l.digest));
  const sum = (ls) => ls.reduce((n, l) => n + l.size, 0);
  console.log(sum(a), sum(b.filter((l) => !old.has(l.digest))));' "$work/manifest1.json" "$work/manifest2.json")

export COCOON_ROOT_DIR=$work/root COCOON_LOG_DIR=$work/log
hyperfine --runs "$runs" --export-json "$work/times.json" --style basic \
  --prepare "rm -rf $work/root $work/skopeo" \
  -n cocoon "${image[*]} pull --progress none --format json $host/bench/img:v1" \
  -n skopeo "skopeo copy --quiet --src-tls-verify=false docker://$host/bench/img:v1 oci:$work/skopeo:v1" >&2

# One more pull for the phase split, from the progress events.
rm -rf "$work/root"
"${image[@]}" pull --progress json --format json "$host/bench/img:v1" >/dev/null 2>"$work/events.ndjson"
read -r download convert first_bytes < <(node "$here/pull/phases.mjs" "$work/events.ndjson")

# The second image shares all layers but one: only that one may be downloaded.
"${image[@]}" pull --progress json --format json "$host/bench/img:v2" >"$work/second.json" 2>"$work/events2.ndjson"
second_bytes=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1]))[0].downloaded_bytes)' "$work/second.json")

node - "$work/times.json" "$download" "$convert" "$total" "$first_bytes" "$second_bytes" "$new_layer_size" <<'JS'
const [file, download, convert, total, firstBytes, secondBytes, newLayer] = process.argv.slice(2);
const t = Object.fromEntries(JSON.parse(require('fs').readFileSync(file)).results.map((r) => [r.command, r]));
const mib = (b) => (Number(b) / 2 ** 20).toFixed(1);
const cocoon = t.cocoon.mean, skopeo = t.skopeo.mean;
const row = (name, secs, note) => console.log(`${name.padEnd(36)} ${secs.toFixed(3).padStart(8)} s  ${note}`);
console.log(`image: ${mib(total)} MiB in the registry, 5 gzip layers of random data (skopeo compresses on push); mean of ${t.cocoon.times.length} runs`);
row('skopeo copy docker:// → oci: (download)', skopeo, '(baseline)');
row('cocoon-image pull (download+EROFS)', cocoon, `ratio ${(cocoon / skopeo).toFixed(2)} (target ≤ 1.0; includes conversion skopeo does not do)`);
row('  of which download+extract phase', Number(download), `ratio ${(Number(download) / skopeo).toFixed(2)} vs skopeo (phase only: no process start-up, no manifest fetch)`);
row('  of which mkfs.erofs phase', Number(convert), '(first mkfs start → last done; overlaps other layers\' downloads)');
console.log(`first pull downloaded ${firstBytes} bytes (${mib(firstBytes)} MiB)`);
const ok = Number(secondBytes) === Number(newLayer);
console.log(`second pull (all layers shared but one): downloaded ${secondBytes} bytes; the new layer is ${newLayer} bytes: ${ok ? 'OK' : 'MISMATCH'}`);
process.exitCode = ok ? 0 : 1;
JS
