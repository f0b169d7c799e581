#!/usr/bin/env bash
# Installs what the project needs and is missing: Debian packages (apt-get) and the pinned npm
# packages (npm ci). Safe to run again; does nothing that is already done.
#   scripts/setup.sh          everything (build, tests, wasm)
#   scripts/setup.sh --demo   only what the demo needs (compiler, cmake, node packages)
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-all}
pkgs=(g++ cmake make pkg-config nodejs npm libboost-dev libsqlite3-dev libsodium-dev libhiredis-dev
      emscripten node-acorn curl)
if [ "$mode" != "--demo" ]; then
  pkgs+=(libgtest-dev nlohmann-json3-dev brotli clang-format
        clang-14 libclang-rt-14-dev llvm-14 sqlite3 wrk chromium redis-server redis-tools)
fi

missing=()
for p in "${pkgs[@]}"; do
  # node/npm may come from elsewhere than Debian (a preinstalled node 20): accept the commands.
  if [ "$p" = nodejs ] && command -v node >/dev/null 2>&1; then continue; fi
  if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm packages pinned by package-lock.json (simdjson source, json-logic-js for differential tests,
# playwright-core, which drives Debian's chromium: it must never download a browser of its own).
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.pz-lock-stamp; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.pz-lock-stamp
fi
