#!/usr/bin/env bash
# The main job on embedded defaults: installs what is missing, builds (the native pz and
# pz-server, the wasm core, the JS SDK, the demo shop), runs one sample visitor through the
# engine, then starts pz-server (SQLite in ./pz-data) serving the shop and its bundle on
# 127.0.0.1:8080 and the edge worker (workerd) in front of it on 127.0.0.1:8787, and prints both
# URLs. Ctrl-C stops both.
#
#   scripts/demo.sh           run until Ctrl-C
#   scripts/demo.sh --check   start both, check a page through each, stop (a smoke test)
#
# Ports: PZ_DEMO_PORT (default 8080) must match edge-worker/config.capnp's origin when you change
# it; the edge worker listens on PZ_EDGE_PORT (default 8787).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-run}
port=${PZ_DEMO_PORT:-8080}
edge_port=${PZ_EDGE_PORT:-8787}

scripts/setup.sh --demo
echo "== building (native server and CLI, wasm core, JS SDK, demo shop)"
# A fresh build directory is configured without tests and benches (the demo's set-up installs no
# GoogleTest); one the test command configured keeps them (its bench targets stay buildable).
if [[ -f build/CMakeCache.txt ]]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
else
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPZ_DEVELOPER=OFF >/dev/null
fi
cmake --build build -j"$(nproc)" --target pz pz-server >/dev/null
scripts/build-wasm.sh >/dev/null
node scripts/build-js.mjs >/dev/null
node demo-site/build.mjs >/dev/null

echo "== one visitor of the demo shop through the engine (pz simulate)"
./build/pz simulate --bundle demo-site/bundle.json < demo-site/sample-events.jsonl

for p in "$port" "$edge_port"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    echo "demo: port $p on 127.0.0.1 is in use; stop what runs there (or set PZ_DEMO_PORT / PZ_EDGE_PORT)" >&2
    exit 1
  fi
done

pids=()
stop() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT
trap 'exit 130' INT TERM

mkdir -p pz-data
./build/pz-server --port "$port" --data pz-data --static demo-site/dist \
  --bundle demo-site/bundle.json 2>pz-data/server.log &
pids+=($!)
node_modules/@cloudflare/workerd-linux-64/bin/workerd serve edge-worker/config.capnp \
  --socket-addr "http=127.0.0.1:$edge_port" >pz-data/edge.log 2>&1 &
pids+=($!)

# Waits until a URL answers (15 s at most).
wait_for() {
  for _ in $(seq 150); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "demo: $1 did not answer; see pz-data/server.log and pz-data/edge.log" >&2
  return 1
}
wait_for "http://127.0.0.1:$port/healthz"
wait_for "http://127.0.0.1:$edge_port/"

cat <<EOF

  The demo shop, the snippet alone:    http://127.0.0.1:$port/
  The same shop through the edge worker: http://127.0.0.1:$edge_port/
  Add ?pz_debug=1 to see the profile, segments and each decision's why.
  Try: accept the banner, view Membership three times, add shoes to the cart.
  Logs in pz-data/server.log and pz-data/edge.log. Ctrl-C stops both.

EOF

if [ "$mode" = "--check" ]; then
  consent='pz_consent=%7B%22analytics%22%3Atrue%2C%22personalization%22%3Atrue%2C%22marketing%22%3Afalse%7D'
  page=$(curl -fsS "http://127.0.0.1:$port/")
  grep -q 'data-pz-slot="hero"' <<<"$page" || { echo "demo: no hero slot on the shop's home page" >&2; exit 1; }
  edge=$(curl -fsS -H "Cookie: $consent" "http://127.0.0.1:$edge_port/")
  grep -q 'data-pz-decided' <<<"$edge" || { echo "demo: the edge worker did not fill the slots" >&2; exit 1; }
  curl -fsS "http://127.0.0.1:$port/v1/bundle?key=pk_demo" -o /dev/null
  echo "demo: both answer; the edge worker filled the slots"
  exit 0
fi
wait
