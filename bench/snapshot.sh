#!/usr/bin/env bash
# Benchmark: snapshots, side by side in one run.
#  1. clone → exec-ready vs cold boot (vm run) → exec-ready of the same guest (target ≤ 0.2×)
#  2. clone --count N total vs N × one clone
#  3. snapshot save time vs the size of the state + disk data written
#  4. export of a 10 GiB sparse disk holding 200 MiB vs `tar --sparse -cf` of the same file
#     (target ≤ 1.0×, archive within 5 % of the data)
#  5. import vs `tar -xf` of the same archive
# Needs dist/bin and the default guest (built in the bench root on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/guest-env.sh
source bench/guest-env.sh
COUNT="${COUNT:-10}"
work="$ROOT/bench-snapshot"
rm -rf "$work" && mkdir -p "$work"
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc; }
cleanup() {
  "$c" vm rm --force bench-src bench-boot >/dev/null 2>&1 || true
  "$c" vm ls -o json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const v of JSON.parse(s))if(v.config.name.startsWith("bench-c"))console.log(v.id)})' | xargs -r "$c" vm rm --force >/dev/null 2>&1 || true
  for s in bench-base bench-sparse bench-sparse2; do "$c" snapshot rm "$s" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT
cleanup

# 1. Cold boot to exec-ready, then a clone to exec-ready.
t0=$(now); "$c" vm run --name bench-boot --nics 0 --memory 256M --storage 1G --wait --wait-timeout 300 default >/dev/null; t1=$(now)
cold=$(secs "$t0" "$t1")
"$c" vm run --name bench-src --nics 0 --memory 256M --storage 1G --wait --wait-timeout 300 default >/dev/null
t0=$(now); "$c" snapshot save --name bench-base bench-src >/dev/null; t1=$(now)
save=$(secs "$t0" "$t1")
state_bytes=$("$c" snapshot inspect bench-base | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);console.log(r.files.reduce((n,f)=>n+f.size*(f.name==="vmstate.qemu"?1:0),0))})')
cow_used=$(du -B1 "$COCOON_ROOT_DIR/snapshots/$("$c" snapshot inspect bench-base | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).id))')/cow.raw" | cut -f1)
t0=$(now); id=$("$c" vm clone --name bench-c0 bench-base); "$c" vm exec "$id" -- true; t1=$(now)
clone=$(secs "$t0" "$t1")

# 2. N clones in one call vs N single clones (each clone re-identified: exec-ready when it returns).
t0=$(now); "$c" vm clone --count "$COUNT" --name bench-cn bench-base >/dev/null; t1=$(now)
pool=$(secs "$t0" "$t1")
"$c" vm ls -o json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const v of JSON.parse(s))if(v.config.name.startsWith("bench-cn"))console.log(v.id)})' | xargs -r "$c" vm rm --force >/dev/null
t0=$(now); for i in $(seq 1 "$COUNT"); do "$c" vm clone --name "bench-c1-$i" bench-base >/dev/null; done; t1=$(now)
serial=$(secs "$t0" "$t1")
cleanup

# 4/5. A 10 GiB sparse disk with 200 MiB of data in 50 runs of 4 MiB, as a snapshot.
mkdir -p "$work/src"
truncate -s 10G "$work/src/cow.raw"
for i in $(seq 0 49); do dd if=/dev/urandom of="$work/src/cow.raw" bs=4M count=1 seek=$((i * 51)) conv=notrunc status=none; done
printf '{"version":1,"config":{"cpu":1,"memory":268435456,"storage":10737418240,"image":"default","image_digest":"sha256:%064d","image_type":"oci","name":"bench-sparse","hypervisor":"qemu","nics":0}}\n' 0 > "$work/src/snapshot.json"
tar -C "$work/src" --sparse --format=pax -cf "$work/seed.tar" snapshot.json cow.raw
"$c" snapshot import "$work/seed.tar" >/dev/null
t0=$(now); tar -C "$work/src" --sparse --format=pax -cf "$work/gnu.tar" cow.raw; t1=$(now)
gnu_export=$(secs "$t0" "$t1")
t0=$(now); "$c" snapshot export bench-sparse -o "$work/cocoon.tar" >/dev/null; t1=$(now)
cocoon_export=$(secs "$t0" "$t1")
data=$((200 * 1024 * 1024))
archive=$(stat -c %s "$work/cocoon.tar")
mkdir -p "$work/x"
t0=$(now); tar -C "$work/x" -xf "$work/cocoon.tar"; t1=$(now)
gnu_import=$(secs "$t0" "$t1")
t0=$(now); "$c" snapshot import --name bench-sparse2 "$work/cocoon.tar" >/dev/null; t1=$(now)
cocoon_import=$(secs "$t0" "$t1")
rm -rf "$work"

node -e '
const [cold, clone, pool, serial, count, save, state, cow, ge, ce, data, archive, gi, ci] = process.argv.slice(1).map(Number);
const r = (a, b) => (a / b).toFixed(2) + "x";
const mib = (b) => (b / 2 ** 20).toFixed(1) + " MiB";
console.log("benchmark                                   cocoon        reference     ratio   target");
console.log(`clone→exec-ready vs cold boot→exec-ready    ${clone.toFixed(2).padStart(7)} s     ${cold.toFixed(2).padStart(7)} s    ${r(clone, cold).padStart(6)}   ≤ 0.20x ${clone / cold <= 0.2 ? "met" : "MISSED"}`);
console.log(`clone --count ${count} vs ${count} × clone           ${pool.toFixed(2).padStart(7)} s     ${serial.toFixed(2).padStart(7)} s    ${r(pool, serial).padStart(6)}`);
console.log(`snapshot save (state ${mib(state)}, disk data ${mib(cow)})   ${save.toFixed(2).padStart(7)} s     ${((state + cow) / 2 ** 20 / save).toFixed(0)} MiB/s written`);
console.log(`export 10 GiB sparse / 200 MiB vs GNU tar   ${ce.toFixed(2).padStart(7)} s     ${ge.toFixed(2).padStart(7)} s    ${r(ce, ge).padStart(6)}   ≤ 1.00x ${ce / ge <= 1 ? "met" : "MISSED"}`);
console.log(`archive size vs data                        ${mib(archive).padStart(11)}   ${mib(data).padStart(11)}   ${r(archive, data).padStart(6)}   ≤ 1.05x ${archive / data <= 1.05 ? "met" : "MISSED"}`);
console.log(`import vs tar -xf (same archive)            ${ci.toFixed(2).padStart(7)} s     ${gi.toFixed(2).padStart(7)} s    ${r(ci, gi).padStart(6)}   (${(archive / 2 ** 20 / ci).toFixed(0)} vs ${(archive / 2 ** 20 / gi).toFixed(0)} MiB/s)`);
' "$cold" "$clone" "$pool" "$serial" "$COUNT" "$save" "$state_bytes" "$cow_used" "$gnu_export" "$cocoon_export" "$data" "$archive" "$gnu_import" "$cocoon_import"
