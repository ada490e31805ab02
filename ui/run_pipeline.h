#pragma once
// One run as `cle equalize` does it, on the worker thread: fold the plan's batch norms into a
// copy of the loaded weights, measure the INT8 quantization figures before, equalize, measure
// after. Touches no Qt object.
#include <memory>
#include <string>
#include <vector>

#include "cle/core/bias_absorption.h"
#include "cle/core/equalizer.h"
#include "cle/core/quantization.h"
#include "cle/core/run_plan.h"

namespace cle::ui {

struct RunInput {
    std::shared_ptr<const core::Model> model;  ///< the loaded weights, shared read-only
    core::RunPlan plan;                        ///< what this run equalizes
    /// When continuing from an earlier result: its plan and its changed (folded, equalized)
    /// layers, which this run starts from. Empty for a run from the loaded weights.
    core::RunPlan previousPlan;
    std::vector<core::Layer> startLayers;
    core::EqualizeOptions options;
    bool absorbBias = false;  ///< high-bias absorption after equalizing (core::absorbHighBias)
};

struct RunResult {
    core::Summary summary;
    /// Every layer changed since the loaded weights (the start layers updated by this run).
    std::vector<core::Layer> layers;
    core::RunPlan plan;  ///< this run's plan merged with the previous one: what export needs
    core::QuantizationReport quantization;  ///< "before" is the loaded weights, folded
    std::vector<core::Relu6Cost> relu6Costs;  ///< one per ReLU6 the plan relaxes
    std::vector<core::AbsorbedBias> absorbed;  ///< with RunInput::absorbBias: what moved
    bool cancelled = false;
};

/// The layer names of `pairs`, each once, in order of appearance.
std::vector<std::string> pairLayerNames(const std::vector<core::LayerPair>& pairs);

/// `earlier` followed by what `later` adds (pairs, batch norms, ReLU6 layers, skipped pairs).
core::RunPlan mergePlans(const core::RunPlan& earlier, const core::RunPlan& later);

/// `base` with every layer of `newer` replacing (or joining) the one of the same name.
std::vector<core::Layer> mergeLayers(std::vector<core::Layer> base,
                                     std::vector<core::Layer> newer);

/// Runs `input` through the core. Throws core::Error as the core does.
RunResult runPipeline(const RunInput& input, const core::ProgressCallback& progress);

}  // namespace cle::ui
