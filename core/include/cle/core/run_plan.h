#pragma once
// From a pair list (the user's or the topology's suggestion) to what the engine and the export
// need: the pairs kept, the batch norms to fold, the ReLU6 activations to relax, and the pairs
// skipped with their reasons.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cle/core/export_extras.h"
#include "cle/core/model.h"
#include "cle/core/pairs.h"
#include "cle/core/topology.h"

namespace cle::core {

struct RunPlan {
    std::vector<LayerPair> pairs;  ///< what the engine equalizes
    std::vector<Region> regions;   ///< equalized in the same sweeps, after the pairs
    /// Pairs whose first layer is followed by a folded batch norm and a ReLU (Link::
    /// reluAfterBatchNorm): candidates for high-bias absorption.
    std::vector<LayerPair> absorbable;
    std::vector<Rejection> skipped;        ///< pairs left out, each with its reason
    std::vector<BatchNormRef> batchNorms;  ///< folded into the layer named `after`
    std::vector<std::string> relu6;        ///< ReLU6 layers turned into ReLU on export
    /// ReLU6 layer -> the batch norm right before it (its statistics estimate the relaxation's
    /// cost)
    std::map<std::string, std::string> relu6Norms;
    /// ReLU6 layer -> its clip level where it is not 6 (a ReLU with another max_value, a Clip)
    std::map<std::string, double> relu6Max;
    std::vector<std::string> notes;  ///< facts about the plan a user should know
    bool guessed = false;            ///< some link was inferred without a layer graph
};

/// What relaxing one ReLU6 to ReLU costs: the expected fraction of its inputs above its clip level,
/// per channel, under N(beta, gamma^2) from the batch norm before it.
struct Relu6Cost {
    std::string layer;
    std::string batchNorm;  ///< empty when no batch norm precedes it: the cost is unknown
    double worst = 0;       ///< largest fraction over the channels
    int worstChannel = -1;
    double mean = 0;   ///< mean fraction over the channels
    double level = 6;  ///< the clip level relaxed (a ReLU's max_value, a Clip's max)
    bool known() const { return !batchNorm.empty(); }
};

/// The cost of each of the plan's ReLU6 relaxations, in plan order, from the batch norms' gamma
/// and beta loaded with `model` (read from its file for a model put together in memory). Throws
/// Error naming the file on a read failure.
std::vector<Relu6Cost> relu6Costs(const Model& model, const RunPlan& plan);
/// The same, reading gamma and beta from `info`'s file.
std::vector<Relu6Cost> relu6Costs(const ModelInfo& info, const RunPlan& plan);

/// Checks the user's pairs against the layer graph: a pair the graph shows would change the
/// function (branch, Add, ReLU6 without `allowRelu6`, ...) is an input Error with the reason.
RunPlan planPairs(const ModelInfo& info, const Topology& topology,
                  const std::vector<LayerPair>& pairs, bool allowRelu6);

/// Adds the named regions, checked against the layer graph: one the graph does not admit is an
/// input Error with the reason.
void planRegions(const ModelInfo& info, const Topology& topology,
                 const std::vector<RegionNames>& regions, bool allowRelu6, RunPlan& plan);

/// The layers a plan equalizes (pairs and regions), each once, in plan order.
std::vector<std::string> planLayers(const RunPlan& plan);

/// The topology's suggestions, regions included. Guessed suggestions (no layer graph) need
/// `acceptGuesses`, otherwise a usage Error says so. No suggestion at all is an input Error.
RunPlan planSuggested(const ModelInfo& info, const Topology& topology, bool allowRelu6,
                      bool acceptGuesses);

/// Every layer named in a pair has its batch norm folded too (the second layer of a pair, whose
/// batch norm a link does not carry), so that ranges and the preview describe deployed weights.
/// Folded batch norms become identities on export; one whose folded bias has nowhere to go is
/// left out with a note (the second layer of a pair only: its ranges are then measured unfolded).
/// Called by planPairs and planSuggested.
void addLayerBatchNorms(const ModelInfo& info, const Topology& topology, RunPlan& plan);

/// Folds the plan's batch norms into their layers in `model` (W' = W * gamma / sqrt(var + eps),
/// b' = (b - mean) * gamma / sqrt(var + eps) + beta); a layer without bias gets one in memory.
/// The vectors come from model.parameters, or from the file for those not loaded.
void foldBatchNorms(Model& model, const RunPlan& plan);

/// Copies into `to` (a model holding some of `from`'s layers) the loaded vectors of the plan's
/// batch norms, so that folding `to` does not read the file.
void copyBatchNormVectors(const Model& from, const RunPlan& plan, Model& to);

/// What the export writes besides the equalized layers: each folded batch norm set to the identity
/// plus the folded bias where the layer has no bias of its own, and the model_config with the
/// plan's ReLU6 layers turned into ReLU.
ExportExtras exportExtras(const Model& model, const RunPlan& plan,
                          const std::vector<Layer>& equalized);
/// The same, reading the model_config from `info`'s file.
ExportExtras exportExtras(const ModelInfo& info, const RunPlan& plan,
                          const std::vector<Layer>& equalized);

}  // namespace cle::core
