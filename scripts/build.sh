#!/usr/bin/env bash
# Configures and builds CLE Studio into ./build (Release). Extra arguments go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ccache.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" "$@" > build-configure.log || {
  cat build-configure.log; exit 1; }
cmake --build build -j"$(nproc)"
