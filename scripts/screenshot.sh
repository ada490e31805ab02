#!/usr/bin/env bash
# Makes docs/screenshot.png (the main window on the bundled sample after a run),
# docs/screenshot-quantization.png (the Quantization tab of the same run) and
# docs/screenshot-graph.png (the Graph tab), under Xvfb.
# Builds nothing. Usage: scripts/screenshot.sh BUILD_DIR [OUTPUT_PNG]
set -euo pipefail

if [[ $# -lt 1 ]]; then
    echo "usage: $0 BUILD_DIR [OUTPUT_PNG]" >&2
    exit 2
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$(cd "$1" && pwd)"
out="${2:-$root/docs/screenshot.png}"
quant="${out%.png}-quantization.png"
graph="${out%.png}-graph.png"
studio="$build/app/cle-studio"
if [[ ! -x "$studio" ]]; then
    echo "error: $studio not found; build the cle-studio target first" >&2
    exit 1
fi
command -v xvfb-run >/dev/null || { echo "error: xvfb-run is not installed" >&2; exit 1; }
mkdir -p "$(dirname "$out")"

# Settings of the user's own session must not change the picture.
settings="$(mktemp -d)"
trap 'rm -rf "$settings"' EXIT

# The chain the layer graph suggests: conv -> depthwise -> pointwise -> ... -> conv8.
shoot() {
    XDG_CONFIG_HOME="$settings" QT_QPA_PLATFORM=xcb timeout 120 \
        xvfb-run -a -s "-screen 0 1600x1000x24" \
        "$studio" "$root/resources/tiny_face_detector_keras.h5" \
        --suggest --run --size 1600x1000 "$@"
}
shoot --show-pair 4 --tab equalization --screenshot "$out"
echo "wrote $out"
shoot --tab quantization --screenshot "$quant"
echo "wrote $quant"
shoot --tab graph --screenshot "$graph"
echo "wrote $graph"
