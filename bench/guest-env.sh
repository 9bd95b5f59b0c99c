# Sourced by the benchmarks that boot the default guest: checks dist/bin, points cocoon at
# the shared e2e/bench root (COCOON_BENCH_ROOT overrides) and builds the default guest there
# once. Sets BIN, ROOT and c (the cocoon executable). COCOON_BENCH_BIN measures another
# build (e.g. an older one, in a root of its own).
BIN="${COCOON_BENCH_BIN:-$PWD/dist/bin}"
[ -x "$BIN/cocoon" ] || { echo "bench: $BIN/cocoon is missing: run npm run build" >&2; exit 8; }
ROOT="${COCOON_BENCH_ROOT:-$PWD/test/.work}"
export COCOON_ROOT_DIR="$ROOT/root" COCOON_RUN_DIR="$ROOT/run" COCOON_LOG_DIR="$ROOT/log"
c="$BIN/cocoon"
"$c" image build-default >/dev/null
