#pragma once
// What `cle` does when the process faults. HDF5 1.10.8 reads past its buffers or through null
// pointers on some damaged files (tests/fuzz/library-faults/README.md); such a fault must not
// end `cle` with a core dump and a temporary file left beside the output.
#include <string>

namespace cle::cli {

/// From now on a segmentation fault, bus error, illegal instruction, arithmetic fault or abort
/// removes the export's temporary files, prints one sentence naming the file being read (see
/// noteInputFile) and ends the process with exit 5 (kFault). Call once, early in main().
void installFaultHandler();

/// The file the command works on, named by that sentence.
void noteInputFile(const std::string& path);

}  // namespace cle::cli
