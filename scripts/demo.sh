#!/usr/bin/env bash
# The main job on embedded defaults: installs what is missing, builds the native `pz`, and runs
# one visitor of the demo shop (demo-site/bundle.json) through a sample event stream, printing
# the segments and decisions at each decide line.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --demo
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DPZ_DEVELOPER=OFF >/dev/null
cmake --build build -j"$(nproc)" --target pz >/dev/null
echo "== pz validate demo-site/bundle.json"
./build/pz validate demo-site/bundle.json
echo "== pz simulate --bundle demo-site/bundle.json < demo-site/sample-events.jsonl"
./build/pz simulate --bundle demo-site/bundle.json < demo-site/sample-events.jsonl
