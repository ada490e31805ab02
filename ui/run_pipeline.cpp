#include "ui/run_pipeline.h"

#include <algorithm>

namespace cle::ui {

namespace {

template <typename T, typename Same>
void appendMissing(std::vector<T>& to, const std::vector<T>& from, Same same)
{
    for (const auto& x : from)
        if (std::none_of(to.begin(), to.end(), [&](const T& y) { return same(x, y); }))
            to.push_back(x);
}

bool hasLayer(const std::vector<core::Layer>& layers, const std::string& name)
{
    return std::any_of(layers.begin(), layers.end(),
                       [&](const core::Layer& l) { return l.info.name == name; });
}

}  // namespace

std::vector<std::string> pairLayerNames(const std::vector<core::LayerPair>& pairs)
{
    std::vector<std::string> names;
    for (const auto& [a, b] : pairs)
        for (const auto* n : {&a, &b})
            if (std::find(names.begin(), names.end(), *n) == names.end()) names.push_back(*n);
    return names;
}

core::RunPlan mergePlans(const core::RunPlan& earlier, const core::RunPlan& later)
{
    core::RunPlan out = earlier;
    appendMissing(out.pairs, later.pairs, std::equal_to<core::LayerPair>());
    appendMissing(out.regions, later.regions, [](const core::Region& a, const core::Region& b) {
        return a.sources == b.sources && a.sinks == b.sinks;
    });
    appendMissing(out.batchNorms, later.batchNorms,
                  [](const core::BatchNormRef& a, const core::BatchNormRef& b) {
                      return a.name == b.name;
                  });
    appendMissing(out.relu6, later.relu6, std::equal_to<std::string>());
    out.relu6Norms.insert(later.relu6Norms.begin(), later.relu6Norms.end());
    appendMissing(out.notes, later.notes, std::equal_to<std::string>());
    out.skipped.insert(out.skipped.end(), later.skipped.begin(), later.skipped.end());
    out.guessed = earlier.guessed || later.guessed;
    return out;
}

std::vector<core::Layer> mergeLayers(std::vector<core::Layer> base, std::vector<core::Layer> newer)
{
    for (auto& layer : newer) {
        auto it = std::find_if(base.begin(), base.end(), [&](const core::Layer& b) {
            return b.info.name == layer.info.name;
        });
        if (it != base.end())
            *it = std::move(layer);
        else
            base.push_back(std::move(layer));
    }
    return base;
}

RunResult runPipeline(const RunInput& input, const core::ProgressCallback& progress)
{
    RunResult out;
    out.plan = mergePlans(input.previousPlan, input.plan);
    out.relu6Costs = core::relu6Costs(input.model->info, out.plan);
    core::Model model = *input.model;
    core::foldBatchNorms(model, out.plan);
    out.quantization = core::quantizationBefore(model, core::planLayers(out.plan));
    if (!input.startLayers.empty()) {
        core::applyLayers(model, input.startLayers);
        // The start layers carry the earlier plan's folds; a batch norm only this run folds
        // into one of them must be folded again on top.
        core::RunPlan refold;
        for (const auto& bn : input.plan.batchNorms) {
            const bool before = std::any_of(
                input.previousPlan.batchNorms.begin(), input.previousPlan.batchNorms.end(),
                [&](const core::BatchNormRef& b) { return b.name == bn.name; });
            if (!before && hasLayer(input.startLayers, bn.after)) refold.batchNorms.push_back(bn);
        }
        core::foldBatchNorms(model, refold);
    }
    // The copy is not needed afterwards: the core may take its layers instead of copying.
    core::EqualizeResult result =
        core::equalize(std::move(model), input.plan.pairs, input.plan.regions, input.options,
                       progress);
    out.summary = std::move(result.summary);
    out.cancelled = out.summary.cancelled;
    if (out.cancelled) return out;
    if (input.absorbBias)
        out.absorbed =
            core::absorbHighBias(input.model->info, input.plan, out.summary, result.layers);
    out.layers = mergeLayers(input.startLayers, std::move(result.layers));
    core::quantizationAfter(out.quantization, out.layers);
    return out;
}

}  // namespace cle::ui
