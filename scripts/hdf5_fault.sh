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
#   only for a read outside H5Dwrite / H5Awrite, which read our buffers.) Memory that HDF5's public
#   API frees or allocates at our request (H5free_memory, H5allocate_memory, H5resize_memory) is
#   ours, and a stack overflow is always a finding. `cle` ends such a fault with exit 5 and one
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
        # Memory HDF5 frees or allocates at our request: ours.
        if (line ~ / in H5(free|allocate|resize)_memory/) return "request"
        # HDF5 symbolized from its debug information names no module.
        if (line ~ /libhdf5/ || line ~ / in H5[A-Z][A-Za-z0-9_]* /) return "hdf5"
        if (line ~ / in (__interceptor_|__asan|__sanitizer|__ubsan|__lsan|malloc|calloc|realloc|free|operator new|operator delete)/ ||
            line ~ /libc\.so|sysdeps\//) return "runtime"
        return "ours"
    }
    /ERROR: AddressSanitizer:/ {
        if (asan) { bad = 1 }  # two reports: not one fault of HDF5
        if ($0 ~ /stack-overflow/) bad = 1  # HDF5 recurses boundedly; unbounded recursion is ours
        asan = 1; kind = "crash"; stacks = 0; next
    }
    /ERROR: libFuzzer: timeout after/ { kind = "stall"; inStack = 0; hdf5 = 0; decided = 0; next }
    /ERROR: libFuzzer: out-of-memory \(malloc\(/ {
        kind = "allocation"; inStack = 0; hdf5 = 0; decided = 0; next
    }
    # An address in the redzone before a block: the block described (and the stacks of its
    # allocation and release) is the next one, not the one overrun, which the report does not name.
    kind == "crash" && /^WRITE of size/ { writes = 1 }
    kind == "crash" && / is located .* to the left of / {
        describesNext = 1
        if (writes || readsOurs) bad = 1
        next
    }
    kind == "crash" && describesNext { next }
    kind == "crash" && /^ *#[0-9]+ / {
        if (!inStack) { inStack = 1; stacks++; first = ""; reachedOurs = 0 }
        owner = frameOwner($0)
        if (stacks == 1 && $0 ~ / in H5[AD]write/) readsOurs = 1  # HDF5 reads our buffer
        if (first == "" && owner != "runtime") {
            first = owner
            if (owner != "hdf5") bad = 1
        } else if (first == "hdf5" && !reachedOurs) {
            if (owner == "request") bad = 1
            else if (owner == "ours") reachedOurs = 1
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
