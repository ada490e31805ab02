#!/usr/bin/env bash
# scripts/hdf5_stall.sh on kept libFuzzer logs (tests/fuzz/triage/): every stall-*.log is one of
# HDF5's own stalls, every finding-*.log is a finding of ours that must fail the fuzzing step.
# Usage: stall_triage_test.sh SOURCE_DIR
set -uo pipefail
src=${1:?usage: stall_triage_test.sh SOURCE_DIR}
failed=0 checked=0
for log in "$src"/tests/fuzz/triage/*.log; do
    name=$(basename "$log")
    bash "$src/scripts/hdf5_stall.sh" "$log"
    rc=$?
    case $name in
        stall-*) want=0 ;;
        finding-*) want=1 ;;
        *) echo "$name: neither stall-* nor finding-*"; failed=1; continue ;;
    esac
    checked=$((checked + 1))
    if ((rc != want)); then
        echo "$name: hdf5_stall.sh exited $rc, expected $want"
        failed=1
    fi
done
((checked >= 3)) || { echo "only $checked logs checked"; failed=1; }
exit $failed
