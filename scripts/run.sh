#!/usr/bin/env bash
# Installs what is missing, builds, then opens cle-studio on the bundled sample model when a
# display is available; without one, equalizes the sample with the `cle` command line instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh
sample=resources/tiny_face_detector_keras.h5
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -x build/app/cle-studio ]; then
  exec build/app/cle-studio "$sample"
fi
echo "No display: running the command-line demo on $sample"
./build/app/cle inspect "$sample"
out="${TMPDIR:-/tmp}/tiny_face_detector_equalized.h5"
./build/app/cle equalize "$sample" -o "$out" --force --report "${out%.h5}.json" --pairs \
  "conv0,conv1/depthwise,conv1/pointwise,conv2/depthwise,conv2/pointwise,conv3/depthwise,conv3/pointwise,conv4/depthwise,conv4/pointwise,conv5/depthwise,conv5/pointwise,conv8"
