#!/usr/bin/env bash
# Every test: installs what is missing, builds, runs GoogleTest (core, server store), the wasm
# build with its import check, the JS SDK build with its size report, the node tests (host, CLI
# parity on every vector, differential JsonLogic and TCF on native and wasm, the browser runtime
# on jsdom, a real pz-server process), the
# wasm/native benchmark (printed), short fuzz runs, and the sanitizer build (ASan+UBSan) of the
# GoogleTest suites and of pz-server under the node server tests.
# Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
scripts/setup.sh

echo "== formatting (.clang-format)"
scripts/check-format.sh

echo "== native build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPZ_DEVELOPER=ON >/dev/null
cmake --build build -j"$jobs"

echo "== core tests (GoogleTest via CTest)"
ctest --test-dir build --output-on-failure -j"$jobs"

echo "== wasm builds (Emscripten: -Oz, and -O2 for long-running hosts) + import check"
scripts/build-wasm.sh

echo "== JS SDK build (esbuild: loader stub, runtime, wasm copy into js/dist)"
export PZ_WASM="$PWD/build-wasm/pz_core.wasm"
node scripts/build-js.mjs
node bench/size.mjs --check-loader

echo "== node tests (native CLI, wasm host, wasm CLI parity, browser runtime on jsdom)"
PZ_BIN="$PWD/build/pz" node --test tests/js/

echo "== the shared vectors, CLI parity and the differential tests on the speed build (-O2)"
PZ_WASM="$PWD/build-wasm/pz_core_speed.wasm" PZ_BIN="$PWD/build/pz" node --test \
  tests/js/cli_parity.test.mjs tests/js/jsonlogic_diff.test.mjs tests/js/tcf_diff.test.mjs \
  tests/js/host.test.mjs tests/js/demo_bundle.test.mjs

echo "== server tests (a real pz-server on 127.0.0.1: every endpoint, two devices, erasure, kill -9)"
PZ_SERVER="$PWD/build/pz-server" node --test tests/server/

echo "== edge worker tests (real workerd: pages, consent, budget, /pz/*, slot rendering, vectors)"
PZ_BIN="$PWD/build/pz" PZ_SERVER="$PWD/build/pz-server" node --test tests/edge/

echo "== real-browser tests (Debian chromium via playwright-core: the demo shop, snippet alone and behind the edge worker)"
node demo-site/build.mjs >/dev/null
PZ_SERVER="$PWD/build/pz-server" node --test tests/e2e/

echo "== differential tests again, through the wasm CLI (node js/bin/pz.mjs)"
PZ_BIN="$PWD/js/bin/pz-wasm" node --test tests/js/jsonlogic_diff.test.mjs tests/js/tcf_diff.test.mjs

echo "== wasm in node vs native, same inputs (measured and printed, never asserted)"
node bench/wasm_bench.mjs --events 20000

echo "== rules vs peers on the same data (printed; fails if a peer's memberships differ from ours)"
node bench/rules_bench.mjs --quick

echo "== pz-server under load on loopback (measured and printed; fails only on errors)"
node bench/server_bench.mjs --duration 2

echo "== the demo page in chromium, snippet vs edge worker (measured and printed, never asserted)"
node bench/page_bench.mjs --runs 3

echo "== the one-command demo, started and checked (server + edge worker on 127.0.0.1)"
bash scripts/demo.sh --check

echo "== libFuzzer: every parser entry point, 20 s each"
scripts/fuzz.sh 20

echo "== native tests under ASan+UBSan: GoogleTest (core, server), then the server tests against pz-server"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DPZ_SANITIZE=ON -DPZ_DEVELOPER=ON >/dev/null
cmake --build build-asan -j"$jobs" --target pz_core_tests pz pz_server_tests pz-server
# Fewer random CRDT histories under the sanitizers (100,000 in the plain run above).
PZ_CRDT_HISTORIES=5000 ctest --test-dir build-asan --output-on-failure -j"$jobs"
# Every sanitizer report of a pz-server (or pz) process goes to a file in build-asan/sanitizer/:
# a report at exit (a leak found after SIGTERM) does not fail the test that stopped the server,
# so any file there fails this step. A server killed with SIGKILL (durability, Redis cluster)
# reports nothing, and a server a test starts to fail (bad flags) exits before it could.
san="$PWD/build-asan/sanitizer"
rm -rf "$san"
mkdir -p "$san"
san_start=$SECONDS
san_status=0
ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:log_path=$san/asan" \
  UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$san/ubsan" \
  PZ_SERVER="$PWD/build-asan/pz-server" PZ_BIN="$PWD/build-asan/pz" \
  node --test tests/server/ || san_status=1
if [ -n "$(ls -A "$san")" ]; then
  for f in "$san"/*; do
    echo "---- $f"
    head -n 80 "$f"
  done
  echo "sanitizer reports from the server tests (above)" >&2
  san_status=1
fi
[ "$san_status" -eq 0 ] || exit 1
echo "(the server tests against the ASan+UBSan pz-server took $((SECONDS - san_start)) s)"
echo "== all tests passed"
