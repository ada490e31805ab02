#!/usr/bin/env bash
# scripts/hdf5_fault.sh on kept libFuzzer logs (tests/fuzz/triage/): every library-*.log is one of
# HDF5's own faults, every finding-*.log is a finding of ours that must fail the fuzzing step.
# Usage: fault_triage_test.sh SOURCE_DIR
set -uo pipefail
src=${1:?usage: fault_triage_test.sh SOURCE_DIR}
failed=0 checked=0
for log in "$src"/tests/fuzz/triage/*.log; do
    name=$(basename "$log")
    bash "$src/scripts/hdf5_fault.sh" "$log" > /dev/null
    rc=$?
    case $name in
        library-*) want=0 ;;
        finding-*) want=1 ;;
        *) echo "$name: neither library-* nor finding-*"; failed=1; continue ;;
    esac
    checked=$((checked + 1))
    if ((rc != want)); then
        echo "$name: hdf5_fault.sh exited $rc, expected $want"
        failed=1
    fi
done
((checked >= 5)) || { echo "only $checked logs checked"; failed=1; }
exit $failed
