#!/usr/bin/env bash
# Tells whether a libFuzzer log ends in one of HDF5 1.10.8's own stalls on a damaged file (see
# tests/fuzz/library-faults/README.md): a timeout whose stack, read from the interrupted frame
# outwards, passes through HDF5 (libhdf5) before it reaches a function of ours (cle::, the fuzz
# entry point). Exit 0 for such a stall; 1 for any other log (a timeout in our own code, a crash,
# a leak, a sanitizer report, a clean run). Usage: scripts/hdf5_stall.sh LOG
set -euo pipefail
log=${1:?usage: hdf5_stall.sh LOG}
# A sanitizer or leak report anywhere in the log is a finding, whatever the timeout says.
if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer)|runtime error:' \
    "$log"; then
    exit 1
fi
awk '
    /ERROR: libFuzzer: timeout after/ { timeout = 1; inStack = 0; hdf5 = 0; decided = 0; next }
    timeout && !decided && /^ *#[0-9]+ / {
        inStack = 1
        if ($0 ~ /libhdf5/) hdf5 = 1
        else if ($0 ~ / in (cle::|LLVMFuzzerTestOneInput)/) { decided = 1; verdict = hdf5 }
        next
    }
    inStack && !decided && !/^ *#[0-9]+ / { decided = 1; verdict = 0 }
    END { exit (timeout && verdict) ? 0 : 1 }
' "$log"
