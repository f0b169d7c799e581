#!/usr/bin/env bash
# Fails if any C++ file differs from .clang-format (Debian clang-format 14). Fix with:
#   clang-format -i $(git ls-files '*.cpp' '*.h')
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cpp' '*.h' | grep -v '^node_modules/')
clang-format --dry-run --Werror "${files[@]}"
echo "format: ${#files[@]} files clean"
