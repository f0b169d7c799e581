#!/usr/bin/env bash
# Builds the core as standalone WebAssembly modules, checks their imports and ABI exports
# (wasm/check-imports.mjs), and prints their sizes. Two builds of the same sources:
#   build-wasm/pz_core.wasm        -Oz: the browser's, the edge worker's, the node CLI's
#   build-wasm/pz_core_speed.wasm  -O2, for long-running hosts (a node service, an edge isolate
#                                  that stays warm): 25-35 % less CPU per event once warm, ~1.6x
#                                  the compressed size, a slower first bundle load (built in
#                                  build-wasm-speed/ and copied next to the other)
# Both must give the same bytes for the same inputs: the shared vectors run on both.
#
# Needs only the Debian packages `emscripten node-acorn` (+ `brotli` for the compressed size,
# optional) and node, plus `npm ci` done (for simdjson). Downloads nothing.
#
# Works from any cwd. Environment knobs:
#   PZ_WASM_BUILD_DIR  build directory; set (or PZ_WASM_OPT set): one build only, into it
#                      (default: both builds above)
#   PZ_WASM_OPT        optimization level for compile + link of that one build (default: -Oz)
#   PZ_WASM_WERROR     1 = warnings in core/ and wasm/src/ are errors (default: 0)
#   JOBS               parallel compile jobs (default: nproc)
#   PZ_WASM_NAMES      1 = keep the function names (--profiling-funcs: the same code plus a name
#                      section) for bench/wasm_size.mjs and node --cpu-prof; use another
#                      PZ_WASM_BUILD_DIR (e.g. build-wasm-names), the shipped module has none
#   PZ_WASM_PRIVATE_CACHE
#                      0 (default): use the Emscripten cache the Debian package ships prebuilt
#                      and frozen (read-only) in /usr/share/emscripten/cache; it has every
#                      library this build needs, so nothing is built into it (works as non-root).
#                      1: use a writable cache in <repo>/build-wasm-emcache (or $EM_CACHE if set)
#                      and let emcc build libc/libc++ into it on first use: ~5 min on 2 cores,
#                      reused afterwards. Only needed if the system cache lacks a library.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${PZ_WASM_BUILD_DIR:-$ROOT/build-wasm}"
OPT="${PZ_WASM_OPT:--Oz}"
WERROR="${PZ_WASM_WERROR:-0}"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"

die() { echo "build-wasm: $*" >&2; exit 1; }

for tool in emcmake em++ cmake node; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found (apt-get install emscripten node-acorn cmake nodejs)"
done
[[ -f "$ROOT/node_modules/@nozbe/simdjson/src/simdjson.h" ]] || die "simdjson missing: run 'npm ci' in $ROOT"

# Trap 1: Debian's emcc finds node-acorn only through NODE_PATH (needed as soon as emcc emits or
# optimizes JS glue; the standalone .wasm link does not run it today, but keep it set).
export NODE_PATH="/usr/share/nodejs${NODE_PATH:+:$NODE_PATH}"
# Trap 2: host include paths (/usr/include) on emcc's include path break libc++.
unset CPATH C_INCLUDE_PATH CPLUS_INCLUDE_PATH
# Emscripten cache (see PZ_WASM_PRIVATE_CACHE above).
if [[ "${PZ_WASM_PRIVATE_CACHE:-0}" == 1 ]]; then
  export EM_CACHE="${EM_CACHE:-$ROOT/build-wasm-emcache}"
  export EM_FROZEN_CACHE=  # empty = false: allow emcc to build missing libraries into EM_CACHE
  mkdir -p "$EM_CACHE"
  echo "== using private Emscripten cache $EM_CACHE (first use builds libc/libc++: minutes)"
fi

case "$WERROR" in 1|ON|on|true|yes) WERROR=ON ;; *) WERROR=OFF ;; esac

# build_one DIR OPT: configures and builds DIR at OPT, checks DIR/pz_core.wasm, prints its sizes.
build_one() {
  local BUILD_DIR="$1" OPT="$2" WASM raw br gz
  # A build directory configured from another source directory (before the root project built
  # the wasm, it was configured from wasm/) cannot be reused: start it afresh.
  if [[ -f "$BUILD_DIR/CMakeCache.txt" ]] &&
     ! grep -qx "CMAKE_HOME_DIRECTORY:INTERNAL=$ROOT" "$BUILD_DIR/CMakeCache.txt"; then
    echo "== $BUILD_DIR was configured from another source directory: removing it"
    rm -rf "$BUILD_DIR"
  fi
  echo "== configure ($BUILD_DIR, $OPT)"
  emcmake cmake -S "$ROOT" -B "$BUILD_DIR" \
    -DCMAKE_BUILD_TYPE=Release \
    "-DPZ_WASM_OPT=$OPT" \
    "-DPZ_WASM_WERROR=$WERROR" \
    "-DCMAKE_EXE_LINKER_FLAGS=$([[ "${PZ_WASM_NAMES:-0}" == 1 ]] && echo --profiling-funcs)" ||
    die "configure failed"

  echo "== build"
  cmake --build "$BUILD_DIR" -j "$JOBS" || die "build failed"

  WASM="$BUILD_DIR/pz_core.wasm"
  [[ -f "$WASM" ]] || die "$WASM was not produced"

  echo "== check imports and ABI"
  node "$ROOT/wasm/check-imports.mjs" "$WASM" "$ROOT/wasm/allowed-imports.txt" || die "module check failed"

  raw=$(wc -c <"$WASM")
  if command -v brotli >/dev/null 2>&1; then
    br=$(brotli -c -q 11 "$WASM" | wc -c)
  else
    br="n/a (apt-get install brotli)"
  fi
  gz=$(gzip -9 -c "$WASM" | wc -c)
  echo "== size of $WASM ($OPT): raw $raw bytes, brotli -q 11 $br bytes, gzip -9 $gz bytes"
}

start=$(date +%s)
if [[ -n "${PZ_WASM_BUILD_DIR:-}${PZ_WASM_OPT:-}" ]]; then
  build_one "$BUILD_DIR" "$OPT"
else
  build_one "$ROOT/build-wasm" -Oz
  build_one "$ROOT/build-wasm-speed" -O2
  cp "$ROOT/build-wasm-speed/pz_core.wasm" "$ROOT/build-wasm/pz_core_speed.wasm"
  echo "== build-wasm/pz_core_speed.wasm: the -O2 module (long-running hosts)"
fi
echo "== build-wasm OK in $(( $(date +%s) - start )) s"
