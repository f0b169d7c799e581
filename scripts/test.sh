#!/usr/bin/env bash
# Every test: installs what is missing, builds, runs GoogleTest (core), the node tests
# (differential JsonLogic against json-logic-js, vectors), the wasm compile-and-link check, and
# the sanitizer build of the core tests. Exits non-zero on the first failure.
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

echo "== wasm build (Emscripten) + import check"
scripts/build-wasm.sh

echo "== node tests (native CLI, wasm host, wasm CLI parity)"
export PZ_WASM="$PWD/build-wasm/pz_core.wasm"
PZ_BIN="$PWD/build/pz" node --test tests/js/

echo "== differential tests again, through the wasm CLI (node js/bin/pz.mjs)"
PZ_BIN="$PWD/js/bin/pz-wasm" node --test tests/js/jsonlogic_diff.test.mjs tests/js/tcf_diff.test.mjs

echo "== libFuzzer: every parser entry point, 20 s each"
scripts/fuzz.sh 20

echo "== core tests under ASan+UBSan"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DPZ_SANITIZE=ON -DPZ_DEVELOPER=ON >/dev/null
cmake --build build-asan -j"$jobs" --target pz_core_tests pz
# Fewer random CRDT histories under the sanitizers (100,000 in the plain run above).
PZ_CRDT_HISTORIES=5000 ctest --test-dir build-asan --output-on-failure -j"$jobs"
echo "== all tests passed"
