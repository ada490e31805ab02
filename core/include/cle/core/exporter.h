#pragma once
// Writing equalized weights: a copy of the input file with only the changed datasets rewritten,
// in each dataset's own type, made beside the destination and renamed into place at the end.
#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cle/core/model.h"

namespace cle::core {

/// Changes to the copy besides the equalized layers (batch norms set to the identity, a rewritten
/// model_config).
struct ExportExtras {
    std::vector<std::pair<std::string, Tensor>> datasets;  ///< dataset path -> new values
    std::optional<std::string> modelConfig;  ///< new text of the root attribute model_config
    std::vector<std::string> relaxedNodes;   ///< ONNX: Clip nodes (ReLU6) exported without max
};

struct ExportOptions {
    bool force = false;                        ///< overwrite an existing output file
    const std::atomic<bool>* cancel = nullptr;  ///< checked between datasets
    ExportExtras extras;
    /// The input as it was loaded: the export fails if the file at the input path is no longer it.
    std::optional<FileIdentity> inputIdentity;
    /// A report written together with the output: both files are committed, or neither.
    std::string reportPath;
    /// The report's text, asked for once the weights are written and before anything is committed.
    std::function<std::string()> reportText;
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

/// How many temporary files an export can have at once (the output and its report).
constexpr int kPendingExportFiles = 2;
/// A temporary file of the export under way (`slot` 0 to kPendingExportFiles - 1), or nullptr:
/// for a signal handler that must remove them before the process dies. Async-signal-safe.
const char* pendingExportFile(int slot = 0);
/// For a signal handler about to end the process: removes the temporary files of the export under
/// way and returns true, or returns false while the export commits (its renames finish first, then
/// it may be abandoned). Async-signal-safe.
bool abandonPendingExport() noexcept;

}  // namespace cle::core
