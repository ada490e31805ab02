#pragma once
// Two weighted layers taken as a pair: which axis one feeds in the other, and whether the pair can
// be equalized at all (the rules that do not need the layer graph).
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "cle/core/weight_file.h"

namespace cle::core {

using LayerPair = std::pair<std::string, std::string>;

/// True when `second` has one channel axis that is both its input and output axis in this pair:
/// a Keras depthwise kernel, or a PyTorch [C, 1, k...] kernel following a layer with C > 1 outputs.
bool actsDepthwise(const LayerInfo& first, const LayerInfo& second);
/// The axis of `second` that `first`'s output channels feed.
int pairInAxis(const LayerInfo& first, const LayerInfo& second);
std::int64_t pairInChannels(const LayerInfo& first, const LayerInfo& second);

/// Why `first` -> `second` cannot be equalized in `model` (unknown layer, unsupported kind,
/// channel mismatch, same layer twice), or nullopt when it can.
std::optional<std::string> pairProblem(const ModelInfo& model, const std::string& first,
                                       const std::string& second);

}  // namespace cle::core
