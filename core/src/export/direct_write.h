#pragma once
// Saving an HDF5 file with its changed datasets written once: the copy of the input leaves out
// the bytes of the changed datasets stored in one unfiltered contiguous block, and their new
// values are written at those offsets, in the stored type and byte order. The bytes are those
// HDF5 itself writes; every other dataset is left to HDF5.
#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "cle/core/file_identity.h"
#include "cle/core/tensor.h"
#include "support/temp_file.h"

namespace cle::core::direct {

/// One dataset of the output to be given new values; `subject` names it for the user in errors.
struct DatasetChange {
    std::string path;
    const Tensor* values = nullptr;
    std::string subject;
};

/// Copies `input` into `temp` from one descriptor checked to be `expected` (when given), writing
/// the changes whose storage is a plain contiguous block of the file directly; returns the changes
/// left for HDF5 to write (all of them when anything about the file is in doubt: storage shared
/// between datasets, blocks overlapping or past the end, a user block). `output` names the
/// destination in errors; a `cancel` that becomes true stops between datasets.
std::vector<DatasetChange> copyWithChanges(const std::string& input,
                                           const std::optional<FileIdentity>& expected,
                                           TempFile& temp,
                                           const std::vector<DatasetChange>& changes,
                                           const std::string& output,
                                           const std::atomic<bool>* cancel);

}  // namespace cle::core::direct
