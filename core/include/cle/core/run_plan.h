#pragma once
// From a pair list (the user's or the topology's suggestion) to what the engine and the export
// need: the pairs kept, the batch norms to fold, the ReLU6 activations to relax, and the pairs
// skipped with their reasons.
#include <optional>
#include <string>
#include <vector>

#include "cle/core/exporter.h"
#include "cle/core/model.h"
#include "cle/core/pairs.h"
#include "cle/core/topology.h"

namespace cle::core {

struct RunPlan {
    std::vector<LayerPair> pairs;          ///< what the engine equalizes
    std::vector<Rejection> skipped;        ///< pairs left out, each with its reason
    std::vector<BatchNormRef> batchNorms;  ///< folded into the layer named `after`
    std::vector<std::string> relu6;        ///< ReLU6 layers turned into ReLU on export
    bool guessed = false;                  ///< some link was inferred without a layer graph
};

/// Checks the user's pairs against the layer graph: a pair the graph shows would change the
/// function (branch, Add, ReLU6 without `allowRelu6`, ...) is an input Error with the reason.
RunPlan planPairs(const ModelInfo& info, const Topology& topology,
                  const std::vector<LayerPair>& pairs, bool allowRelu6);

/// The topology's suggestions. Guessed suggestions (no layer graph) need `acceptGuesses`,
/// otherwise a usage Error says so. No suggestion at all is an input Error.
RunPlan planSuggested(const ModelInfo& info, const Topology& topology, bool allowRelu6,
                      bool acceptGuesses);

/// Folds the plan's batch norms into their layers in `model` (W' = W * gamma / sqrt(var + eps),
/// b' = (b - mean) * gamma / sqrt(var + eps) + beta); a layer without bias gets one in memory.
void foldBatchNorms(Model& model, const RunPlan& plan);

/// What the export writes besides the equalized layers: each folded batch norm set to the identity
/// plus the folded bias where the layer has no bias of its own, and the model_config with the
/// plan's ReLU6 layers turned into ReLU.
ExportExtras exportExtras(const ModelInfo& info, const RunPlan& plan,
                          const std::vector<Layer>& equalized);

}  // namespace cle::core
