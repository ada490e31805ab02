#!/usr/bin/env bash
# Tells whether a libFuzzer log ends in one of HDF5 1.10.8's own faults on a damaged file (see
# tests/fuzz/library-faults/README.md):
# - "stall": a timeout, or "allocation": an allocation beyond -malloc_limit_mb, whose stack, read
#   from the interrupted or allocating frame outwards, passes through HDF5 (libhdf5) before it
#   reaches a function of ours (cle::, the fuzz entry point);
# - "crash": an AddressSanitizer report (a read past a buffer, through a null pointer, after a
#   free) in which every stack (the fault's, and those of the memory's allocation and release)
#   starts in HDF5: HDF5's code on HDF5's memory. (When the address lies before a block, the
#   report describes that next block, not the one overrun: only the fault's stack counts, and
#   only for a read.) `cle` ends such a fault with exit 1 and one
#   sentence (app/cli/fault_handler.h); the application reads a file in a `cle check` process
#   first.
# Prints the kind and exits 0 for such a fault; exits 1 for any other log: the same in our own
# code or on our memory (a buffer of ours HDF5 writes past), a leak, an undefined-behaviour report,
# the memory limit reached, a clean run. Usage: scripts/hdf5_fault.sh LOG
set -euo pipefail
log=${1:?usage: hdf5_fault.sh LOG}
# A leak or undefined-behaviour report anywhere in the log is a finding, whatever follows it.
if grep -qE 'ERROR: (LeakSanitizer|UndefinedBehaviorSanitizer)|runtime error:' "$log"; then
    exit 1
fi
awk '
    # Where a frame is: HDF5, the sanitizer runtime or the C library (skipped), or ours.
    function frameOwner(line) {
        if (line ~ /libhdf5/) return "hdf5"
        if (line ~ / in (__interceptor_|__asan|__sanitizer|__ubsan|__lsan|malloc|calloc|realloc|free|operator new|operator delete)/ ||
            line ~ /libc\.so|sysdeps\//) return "runtime"
        return "ours"
    }
    /ERROR: AddressSanitizer:/ {
        if (asan) { bad = 1 }  # two reports: not one fault of HDF5
        asan = 1; kind = "crash"; stacks = 0; next
    }
    /ERROR: libFuzzer: timeout after/ { kind = "stall"; inStack = 0; hdf5 = 0; decided = 0; next }
    /ERROR: libFuzzer: out-of-memory \(malloc\(/ {
        kind = "allocation"; inStack = 0; hdf5 = 0; decided = 0; next
    }
    # An address in the redzone before a block: the block described (and the stacks of its
    # allocation and release) is the next one, not the one overrun, which the report does not name.
    kind == "crash" && /^WRITE of size/ { writes = 1 }
    kind == "crash" && / is located .* to the left of / { describesNext = 1; if (writes) bad = 1; next }
    kind == "crash" && describesNext { next }
    kind == "crash" && /^ *#[0-9]+ / {
        if (!inStack) { inStack = 1; stacks++; first = "" }
        owner = frameOwner($0)
        if (first == "" && owner != "runtime") {
            first = owner
            if (owner != "hdf5") bad = 1
        }
        next
    }
    kind == "crash" && inStack { inStack = 0; if (first == "") bad = 1 }
    kind != "crash" && kind != "" && !decided && /^ *#[0-9]+ / {
        inStack = 1
        if ($0 ~ /libhdf5/) hdf5 = 1
        else if ($0 ~ / in (cle::|LLVMFuzzerTestOneInput)/) { decided = 1; verdict = hdf5 }
        next
    }
    kind != "crash" && inStack && !decided && !/^ *#[0-9]+ / { decided = 1; verdict = 0 }
    END {
        if (kind == "crash") verdict = !bad && stacks > 0
        if (kind == "" || !verdict) exit 1
        print kind
    }
' "$log"
