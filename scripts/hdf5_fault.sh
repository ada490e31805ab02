#!/usr/bin/env bash
# Tells whether a libFuzzer log ends in one of HDF5 1.10.8's own faults on a damaged file (see
# tests/fuzz/library-faults/README.md): a timeout (HDF5 stalls), or an allocation beyond
# -malloc_limit_mb (HDF5 allocates what the file claims), whose stack, read from the interrupted
# or allocating frame outwards, passes through HDF5 (libhdf5) before it reaches a function of ours
# (cle::, the fuzz entry point). Prints "stall" or "allocation" and exits 0 for such a fault;
# exits 1 for any other log (the same in our own code, a crash, a leak, a sanitizer report, the
# memory limit reached, a clean run). Usage: scripts/hdf5_fault.sh LOG
set -euo pipefail
log=${1:?usage: hdf5_fault.sh LOG}
# A sanitizer or leak report anywhere in the log is a finding, whatever follows it.
if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer)|runtime error:' \
    "$log"; then
    exit 1
fi
awk '
    /ERROR: libFuzzer: timeout after/ { kind = "stall"; inStack = 0; hdf5 = 0; decided = 0; next }
    /ERROR: libFuzzer: out-of-memory \(malloc\(/ {
        kind = "allocation"; inStack = 0; hdf5 = 0; decided = 0; next
    }
    kind != "" && !decided && /^ *#[0-9]+ / {
        inStack = 1
        if ($0 ~ /libhdf5/) hdf5 = 1
        else if ($0 ~ / in (cle::|LLVMFuzzerTestOneInput)/) { decided = 1; verdict = hdf5 }
        next
    }
    inStack && !decided && !/^ *#[0-9]+ / { decided = 1; verdict = 0 }
    END {
        if (kind == "" || !verdict) exit 1
        print kind
    }
' "$log"
