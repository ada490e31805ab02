#pragma once
// Writing equalized weights: a copy of the input file with only the changed datasets rewritten,
// in each dataset's own type, made beside the destination and renamed into place at the end.
#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cle/core/export_extras.h"
#include "cle/core/model.h"
#include "cle/core/pending_export.h"

namespace cle::core {

struct ExportOptions {
    bool force = false;                         ///< overwrite an existing output file
    const std::atomic<bool>* cancel = nullptr;  ///< checked between datasets
    ExportExtras extras;
    /// The input as it was loaded: the export fails if the file at the input path is no longer it.
    std::optional<FileIdentity> inputIdentity;
    /// A report written together with the output: both files are committed, or neither.
    std::string reportPath;
    /// The report's text, asked for once the weights are written and before anything is committed.
    std::function<std::string()> reportText;
    /// An HDF5 file's changed datasets stored contiguously and unfiltered are written straight
    /// at their offsets, the copy of the input leaving their bytes out; false writes every one
    /// through HDF5 after a full copy. The output is the same byte for byte.
    bool directWrites = true;
};

/// Checks an output path before any work: refuses the input file itself (also through another
/// path), an existing file without `force`, a missing directory. Throws Error naming the path.
void checkOutputPath(const std::string& input, const std::string& output, bool force);

/// Writes `layers` (weights and biases) into a copy of `input` at `output`. On any failure or
/// cancel no output, no report and no temporary file is left, and an Error is thrown naming the
/// file and the cause (every HDF5 write and close is checked). Never writes through an HDF5
/// external link nor twice to one dataset. Without `force`, an output that appears meanwhile is
/// not replaced.
void exportWeights(const std::string& input, const std::vector<Layer>& layers,
                   const std::string& output, const ExportOptions& options = {});

}  // namespace cle::core
