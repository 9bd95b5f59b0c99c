#!/usr/bin/env bash
# Start-up benchmark of the packaged executable (dist/bin/cocoon) against a bare Node start.
#
#   bash bench/startup.sh            (after `npm run build`; needs hyperfine, installs it as root)
#
# Times, with hyperfine and no shell in between (-N):
#   node -e 0                                  the floor every Node program pays
#   dist/bin/cocoon version                    target <= 1.3x node
#   dist/bin/cocoon vm list --format json      over 1,000 VM records, target <= 2x node
# and prints a table with the ratios. Env: BENCH_RUNS (default 30), BENCH_VMS (1000).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
exe="$repo/dist/bin/cocoon"
runs=${BENCH_RUNS:-30}
vms=${BENCH_VMS:-1000}

die() { echo "bench/startup: $*" >&2; exit 1; }

if ! command -v hyperfine >/dev/null 2>&1; then
  [[ $(id -u) -eq 0 ]] || die "hyperfine is missing: apt-get install hyperfine (Debian package hyperfine)"
  echo "bench/startup: installing hyperfine (Debian package hyperfine)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q hyperfine >/dev/null </dev/null \
    || { apt-get update -q >/dev/null </dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q hyperfine >/dev/null </dev/null; }
fi
[[ -x $exe ]] || die "$exe is missing: run \"npm run build\" first"

work=$(mktemp -d /tmp/cocoon-bench-startup.XXXXXX)
trap 'rm -rf -- "$work"' EXIT
export COCOON_ROOT_DIR="$work/root" COCOON_RUN_DIR="$work/root/run" COCOON_LOG_DIR="$work/log"
node --import tsx "$repo/bench/gen-vms.ts" "$COCOON_ROOT_DIR" "$vms"

# `cocoon version` and `cocoon vm list` are the front end's; fall back (and say so) while
# they do not exist yet, so the benchmark still prints honest numbers for what does.
version_cmd="$exe version"
if ! "$exe" version >/dev/null 2>&1; then
  version_cmd="$exe --version"
  echo "bench/startup: NOTE: \"cocoon version\" does not exist yet; timing \"cocoon --version\"" >&2
fi
names=("node -e 0" "cocoon version")
cmds=("node -e 0" "$version_cmd")
if count=$("$exe" vm list --format json 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).length))'); then
  [[ $count -eq $vms ]] || die "vm list returned $count VMs, expected $vms"
  names+=("cocoon vm list --format json ($vms VMs)")
  cmds+=("$exe vm list --format json")
else
  echo "bench/startup: NOTE: \"cocoon vm list --format json\" does not work yet; not timed" >&2
fi

args=()
for i in "${!cmds[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
hyperfine -N --style none --warmup 5 --runs "$runs" --export-json "$work/result.json" "${args[@]}" >/dev/null
node "$here/startup-report.mjs" "$work/result.json"
