#pragma once
// The temporary files of the export under way, for a signal handler (support/temp_file.cpp).

namespace cle::core {

/// How many temporary files an export can have at once and still be removed by a signal handler:
/// the output, its report and the shards of a sharded set (or an ONNX model's external data).
constexpr int kPendingExportFiles = 256;
/// A temporary file of the export under way (`slot` 0 to kPendingExportFiles - 1), or nullptr:
/// for a signal handler that must remove them before the process dies. Async-signal-safe.
const char* pendingExportFile(int slot = 0);
/// For a signal handler about to end the process: removes the temporary files of the export under
/// way and returns true, or returns false while the export commits (its renames finish first, then
/// it may be abandoned). Async-signal-safe.
bool abandonPendingExport() noexcept;
/// Whether a temporary file of this process has taken its final name (an export was written).
/// Async-signal-safe.
bool exportCommitted() noexcept;

}  // namespace cle::core
