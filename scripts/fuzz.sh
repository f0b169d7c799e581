#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/fuzz_*.cpp, ASan+UBSan, clang-14) into build-fuzz/ and runs
# each for SECONDS_PER_TARGET seconds (default 20; 0 runs only the seed corpus once), as many at
# a time as there are cores. Exits non-zero if any fuzzer finds a crash, leak, timeout or OOM and
# prints the reproducer path; replay one with `build-fuzz/fuzz_<name> <file>`.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]
# Environment: PZ_FUZZ_TARGETS="json rule" limits the targets; PZ_FUZZ_JOBS sets the parallelism.
# Dictionaries: fuzz/dict/json.dict for every target, plus fuzz/dict/<name>.dict when there is one.
# Needs the Debian packages clang-14, libclang-rt-14-dev (libFuzzer/ASan/UBSan runtimes) and make,
# plus llvm-14 for symbolized stack traces, and node with node_modules/ (scripts/setup.sh);
# fuzz_http also builds the server (libboost-dev, libsqlite3-dev, libsodium-dev, libhiredis-dev).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

secs=${1:-20}
if ! [[ "$secs" =~ ^[0-9]+$ ]]; then
  echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET]" >&2
  exit 2
fi
OUT="$ROOT/build-fuzz"
CXX_BIN=${FUZZ_CXX:-clang++-14}
jobs=${PZ_FUZZ_JOBS:-$(nproc)}

if ! command -v "$CXX_BIN" >/dev/null 2>&1; then
  echo "fuzz: $CXX_BIN not found: apt-get install clang-14 libclang-rt-14-dev llvm-14 make" >&2
  exit 1
fi
if [ ! -f "$("$CXX_BIN" --print-resource-dir)/lib/linux/libclang_rt.fuzzer-x86_64.a" ]; then
  echo "fuzz: libFuzzer runtime missing: apt-get install libclang-rt-14-dev" >&2
  exit 1
fi
if [ ! -f node_modules/@nozbe/simdjson/src/simdjson.cpp ]; then
  echo "fuzz: node_modules/@nozbe/simdjson missing: run scripts/setup.sh (npm ci)" >&2
  exit 1
fi

targets=()
if [ -n "${PZ_FUZZ_TARGETS:-}" ]; then
  for t in $PZ_FUZZ_TARGETS; do targets+=("${t#fuzz_}"); done
else
  for f in fuzz/fuzz_*.cpp; do t=${f#fuzz/fuzz_}; targets+=("${t%.cpp}"); done
fi

# ---- build (incremental)
start=$SECONDS
mkdir -p "$OUT/logs"
if ! make -f fuzz/Makefile -j"$jobs" OUT="$OUT" FUZZ_CXX="$CXX_BIN" >"$OUT/logs/build.log" 2>&1; then
  tail -n 60 "$OUT/logs/build.log" >&2
  echo "fuzz: build failed (full log: $OUT/logs/build.log)" >&2
  exit 1
fi
echo "fuzz: build ok in $((SECONDS - start))s ($OUT)"

# ---- seed corpora (regenerated from the repository; libFuzzer adds what it finds beside them)
node fuzz/make_corpus.mjs "$ROOT" "$OUT/corpus" | sed 's/^/fuzz: /'

# ---- run
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
for sym in llvm-symbolizer-14 /usr/lib/llvm-14/bin/llvm-symbolizer llvm-symbolizer; do
  if command -v "$sym" >/dev/null 2>&1; then
    export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-$(command -v "$sym")}
    break
  fi
done
export PZ_FUZZ_DEMO_BUNDLE="$ROOT/demo-site/bundle.json"
# fuzz_http keeps its SQLite store and static files in a temporary directory pz-fuzz-<pid>-*
# (removed at exit; what a crashed run left is removed here, never a running one's).
mkdir -p "$OUT/tmp"
for d in "$OUT"/tmp/pz-fuzz-*; do
  [ -e "$d" ] || continue
  pid=${d##*/pz-fuzz-}
  pid=${pid%%-*}
  [ -n "$pid" ] && [ -d "/proc/$pid" ] || rm -rf "$d"
done
export TMPDIR="$OUT/tmp"

# libFuzzer takes one -dict: json.dict, with the target's own appended when it has one.
mkdir -p "$OUT/dict"
for t in "${targets[@]}"; do
  cat "$ROOT/fuzz/dict/json.dict" >"$OUT/dict/$t.dict"
  if [ -f "$ROOT/fuzz/dict/$t.dict" ]; then cat "$ROOT/fuzz/dict/$t.dict" >>"$OUT/dict/$t.dict"; fi
done

run_one() {
  local t=$1
  local bin="$OUT/fuzz_$t" corpus="$OUT/corpus/$t" art="$OUT/artifacts/$t/"
  mkdir -p "$corpus" "$art"
  local mode=(-max_total_time="$secs")
  [ "$secs" -eq 0 ] && mode=(-runs=0)
  set +e
  # The fuzzer's CPU time (user + system s) goes to $t.cpu: on a busy machine it is less than the
  # wall time -max_total_time bounds.
  (
    TIMEFORMAT='%U %S'
    time "$bin" "$corpus" -dict="$OUT/dict/$t.dict" "${mode[@]}" -rss_limit_mb=2048 -timeout=10 \
      -artifact_prefix="$art" -print_final_stats=1 >"$OUT/logs/$t.log" 2>&1
    echo $? >"$OUT/logs/$t.rc"
  ) 2>"$OUT/logs/$t.cpu"
}

start=$SECONDS
echo "fuzz: running ${targets[*]} for ${secs}s each, $jobs at a time"
running=0
for t in "${targets[@]}"; do
  if [ ! -x "$OUT/fuzz_$t" ]; then
    echo "fuzz: no fuzzer fuzz_$t (targets: fuzz/fuzz_*.cpp)" >&2
    exit 2
  fi
  rm -f "$OUT/logs/$t.rc"
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait || true
echo "fuzz: fuzzing took $((SECONDS - start))s"

failed=0
for t in "${targets[@]}"; do
  rc=$(cat "$OUT/logs/$t.rc" 2>/dev/null || echo 99)
  stats=$(grep -E '^stat::number_of_executed_units' "$OUT/logs/$t.log" | awk '{print $2}' || true)
  cov=$(grep -oE 'cov: [0-9]+' "$OUT/logs/$t.log" | tail -n 1 || true)
  cpu=$(awk 'NF == 2 { printf "%.0f", $1 + $2 }' "$OUT/logs/$t.cpu" 2>/dev/null || true)
  if [ "$rc" -eq 0 ]; then
    echo "fuzz: fuzz_$t ok (${stats:-?} runs, ${cov:-cov: ?}, ${cpu:-?} CPU-s)"
    continue
  fi
  failed=1
  echo "fuzz: fuzz_$t FAILED (exit $rc); log: $OUT/logs/$t.log" >&2
  grep -E '^(==[0-9]+==ERROR|SUMMARY|==== pz fuzz|---- |.*runtime error:)' "$OUT/logs/$t.log" | head -n 12 >&2 || true
  grep -A 12 -E '^    #0 ' "$OUT/logs/$t.log" | head -n 14 >&2 || true
  repro=$(grep -oE 'Test unit written to [^ ]+' "$OUT/logs/$t.log" | tail -n 1 | sed 's/Test unit written to //' || true)
  if [ -n "$repro" ]; then
    echo "fuzz: reproducer: $repro  (replay: $OUT/fuzz_$t $repro)" >&2
  else
    tail -n 20 "$OUT/logs/$t.log" >&2
  fi
done
exit "$failed"
