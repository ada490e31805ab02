#!/bin/bash
# The save phase of `cle equalize` (copy of the input, changed datasets written, fsync) against
# a plain copy of the same file with fsync, interleaved, as ratios. Not used by the tests:
#
#     bash tests/bench/save_ratio.sh build/app/cle CHAIN.h5 fc0,fc1,...,fc7 [REPEATS]
#
# CHAIN.h5 as chain_scaling.py writes it. Needs python3 for the report's timings.
set -euo pipefail
cle=$1 input=$2 pairs=$3 repeats=${4:-5}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
ratios=()
for r in $(seq "$repeats"); do
    "$cle" equalize "$input" -o "$dir/out.h5" --report "$dir/report.json" --quiet --force \
        --threshold 1e-30 --max-sweeps 10 --pairs "$pairs" > /dev/null || [ $? -eq 3 ]  # sweep limit
    save=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["seconds"]["save"])' \
        "$dir/report.json")
    start=$(date +%s.%N)
    cp "$input" "$dir/copy.h5"
    sync "$dir/copy.h5"
    copy=$(echo "$(date +%s.%N) - $start" | bc)
    rm -f "$dir/copy.h5" "$dir/out.h5"
    ratio=$(echo "scale=3; $save / $copy" | bc)
    ratios+=("$ratio")
    echo "repetition $r: save $save s, copy+fsync $copy s, ratio $ratio"
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '{v[NR]=$1} END {
    m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "save / copy+fsync: min %.2f, median %.2f\n", v[1], m }'
