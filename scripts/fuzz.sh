#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (AddressSanitizer + UndefinedBehaviorSanitizer) into
# build-fuzz and runs each for a fixed number of inputs from a fixed seed, so that a run is
# repeatable. An input that fails is kept in build-fuzz/findings/TARGET/ to be added to
# tests/fuzz/regressions/TARGET/; the weight-file target goes on past HDF5's own faults (see
# fuzz_past_hdf5_faults). Usage: scripts/fuzz.sh [RUNS_SCALE [TARGET...]] (default 1, every
# target: pairs_file report keras_config onnx_file weight_file).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
command -v clang++ >/dev/null || {
    echo "Installing clang"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends clang
}
scale=${1:-1}
shift $(($# > 0 ? 1 : 0))
targets=("$@")
((${#targets[@]})) || targets=(pairs_file report keras_config onnx_file weight_file)
wanted() { [[ " ${targets[*]} " == *" $1 "* ]]; }
source scripts/ccache.sh
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=None \
    -DCMAKE_CXX_FLAGS="-O1 -g1 -Wno-pass-failed" -DCMAKE_C_FLAGS="-O1 -g1" \
    -DCLE_SANITIZE=address,undefined,fuzzer-no-link -DCLE_BUILD_FUZZ=ON -DCLE_BUILD_UI=OFF \
    -DCLE_BUILD_BENCH=OFF "${launcher[@]}" > build-fuzz.configure.log || {
    cat build-fuzz.configure.log; exit 1; }
cmake --build build-fuzz -j"$(nproc)" --target fuzz_weight_file fuzz_keras_config \
    fuzz_pairs_file fuzz_report fuzz_onnx_file

export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
# HDF5's own leaks after a damaged file (see the file) are not findings.
export LSAN_OPTIONS=suppressions=$PWD/tests/sanitizers/lsan.supp:print_suppressions=0
fuzz() {  # TARGET RUNS SEED_DIRS...
    local target=$1 runs=$(($2 * scale))
    shift 2
    local corpus=build-fuzz/corpus/$target findings=build-fuzz/findings/$target
    mkdir -p "$corpus" "$findings"
    echo "== $target: $runs inputs"
    build-fuzz/tests/fuzz/fuzz_$target -seed=1 -runs="$runs" -max_len=65536 -timeout=20 \
        -rss_limit_mb=2048 -malloc_limit_mb=1024 -artifact_prefix="$findings/" \
        -print_final_stats=1 "$corpus" "$@" 2>&1 | tail -n 12
}

# The same for a target that can meet HDF5 1.10.8's own faults on damaged files
# (tests/fuzz/library-faults/README.md): a stall, an allocation of what the file claims beyond
# -malloc_limit_mb, or a crash of HDF5's code on HDF5's memory (a read past a buffer, through a
# null pointer, after a free). A run that ends so (scripts/hdf5_fault.sh) is counted, its input
# moved to findings/TARGET/library/, and fuzzing goes on from the next seed for the inputs still to
# run (the corpus keeps what was found), at most MAX_FAULTS times. Anything else fails as above: a
# crash in our code or on our memory, a leak, an undefined-behaviour report, the memory limit
# reached, a timeout or an allocation beyond the limit in our own code. No input of this target
# that ends takes a second, even on a loaded machine, so a stall is cut at 5 s. From empty
# corpora with seeds 2-25, 127 800 inputs met 7 HDF5 crashes and 7 HDF5 allocations.
fuzz_past_hdf5_faults() {  # TARGET RUNS MAX_FAULTS SEED_DIRS...
    local target=$1 runs=$(($2 * scale)) max_faults=$3
    shift 3
    local corpus=build-fuzz/corpus/$target findings=build-fuzz/findings/$target
    local logs=build-fuzz/logs/$target seed=1 left=$runs done_total=0 faults=0 rc executed kind
    mkdir -p "$corpus" "$findings/library" "$logs"
    echo "== $target: $runs inputs, HDF5's own faults skipped (at most $max_faults)"
    while ((left > 0)); do
        local log=$logs/seed-$seed.log
        rc=0
        build-fuzz/tests/fuzz/fuzz_$target -seed=$seed -runs="$left" -max_len=65536 -timeout=5 \
            -rss_limit_mb=2048 -malloc_limit_mb=1024 -artifact_prefix="$findings/" \
            -print_final_stats=1 "$corpus" "$@" > "$log" 2>&1 || rc=$?
        executed=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
        done_total=$((done_total + ${executed:-0}))
        left=$((runs - done_total))
        ((rc == 0)) && break
        if ((rc != 1 && rc != 70 && rc != 71)) || ! kind=$(bash scripts/hdf5_fault.sh "$log"); then
            tail -n 60 "$log"
            echo "== $target: a finding (exit $rc) after $done_total inputs; log $log" >&2
            return 1
        fi
        faults=$((faults + 1))
        mv "$findings"/timeout-* "$findings"/oom-* "$findings"/crash-* "$findings/library/" \
            2>/dev/null || true
        echo "   seed $seed: HDF5 $kind after ${executed:-0} inputs (in $(grep -m1 -oE \
            'in H5[A-Za-z_]+' "$log" | cut -c4-)), input in $findings/library/"
        if ((faults >= max_faults)); then
            echo "== $target: stopped after $faults HDF5 faults, $left inputs not run"
            break
        fi
        seed=$((seed + 1))
    done
    grep -E '^stat::' "$log" || true
    echo "== $target: $done_total inputs run, $faults HDF5 faults skipped"
}

wanted pairs_file &&
    fuzz pairs_file 100000 tests/fuzz/corpus/pairs_file tests/fuzz/regressions/pairs_file
wanted report && fuzz report 5000 tests/fuzz/corpus/report tests/fuzz/regressions/report
wanted keras_config &&
    fuzz keras_config 4000 tests/fuzz/corpus/keras_config tests/fuzz/regressions/keras_config
wanted onnx_file && fuzz onnx_file 4000 tests/fuzz/corpus/onnx_file tests/fuzz/regressions/onnx_file
if wanted weight_file; then
    seeds=build-fuzz/seeds/weight_file
    mkdir -p "$seeds"
    find tests/data resources -name '*.h5' -size -200k -exec cp {} "$seeds/" \;
    fuzz_past_hdf5_faults weight_file 4000 16 "$seeds" tests/fuzz/regressions/weight_file
fi
