#pragma once
// What an export writes besides the equalized layers (made by the plan, written by the exporter).
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cle/core/tensor.h"

namespace cle::core {

/// Changes to the copy besides the equalized layers (batch norms set to the identity, a rewritten
/// model_config).
struct ExportExtras {
    std::vector<std::pair<std::string, Tensor>> datasets;  ///< dataset path -> new values
    std::optional<std::string> modelConfig;  ///< new text of the root attribute model_config
    std::vector<std::string> relaxedNodes;   ///< ONNX: Clip nodes (ReLU6) exported without max
};

}  // namespace cle::core
