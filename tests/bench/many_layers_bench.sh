#!/usr/bin/env bash
# Time and memory of `cle inspect` and `cle pairs` on a PyTorch-style file of N tiny layers
# (l0 ... l{N-1}, 2 x 2 float32; made with h5py). Usage: many_layers_bench.sh CLE [N] (default
# 100000). CPU time is the figure to compare on a shared machine.
set -euo pipefail
cle=${1:?usage: many_layers_bench.sh CLE [N]}
n=${2:-100000}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 - "$dir/many.h5" "$n" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w", libver="latest") as f:
    for i in range(int(sys.argv[2])):
        f.create_dataset("l%d.weight" % i, data=np.full((2, 2), (i % 7) + 1, "f4"))
PY
for command in inspect pairs; do
    /usr/bin/time -f "$command $n layers: %e s wall, %U s user + %S s system, %M KB max RSS" \
        "$cle" "$command" "$dir/many.h5" > /dev/null
done
