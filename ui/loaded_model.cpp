#include "ui/loaded_model.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <exception>
#include <numeric>

#include <QFileInfo>

#include "cle/core/error.h"
#include "cle/core/pipeline.h"
#include "cle/core/run_plan.h"
#include "ui/file_check.h"

namespace cle::ui {

int LoadedModel::indexOf(const std::string& name) const {
    for (size_t i = 0; i < model.layers.size(); ++i)
        if (model.layers[i].info.name == name) return static_cast<int>(i);
    return -1;
}

LayerStats outputStats(const core::Layer& layer) {
    LayerStats s;
    try {
        if (layer.weight.rank() < 1 || layer.weight.values.empty()) return s;
        const int axis = layer.weight.rank() == 1 ? 0 : layer.info.outAxis();
        if (axis < 0 || axis >= layer.weight.rank()) return s;
        s.out = core::channelStats(layer.weight, axis);
        s.range = s.out.range();
        s.imbalance = core::rangeImbalance(s.range);
        s.rawImbalance = s.imbalance;
        s.valid = true;
        for (float v : layer.weight.values) s.nonFinite += std::isfinite(v) ? 0 : 1;
    } catch (const std::exception&) {
        // A layer the core cannot describe is still listed; it just has no statistics.
        s = LayerStats{};
    }
    return s;
}

bool naturalLess(const std::string& a, const std::string& b) {
    size_t i = 0, j = 0;
    while (i < a.size() && j < b.size()) {
        const bool da = std::isdigit(static_cast<unsigned char>(a[i]));
        const bool db = std::isdigit(static_cast<unsigned char>(b[j]));
        if (da && db) {
            // Compare digit runs as numbers: skip leading zeros, then longer is larger.
            size_t ei = i, ej = j;
            while (ei < a.size() && std::isdigit(static_cast<unsigned char>(a[ei]))) ++ei;
            while (ej < b.size() && std::isdigit(static_cast<unsigned char>(b[ej]))) ++ej;
            size_t si = i, sj = j;
            while (si + 1 < ei && a[si] == '0') ++si;
            while (sj + 1 < ej && b[sj] == '0') ++sj;
            if (ei - si != ej - sj) return ei - si < ej - sj;
            if (const int c = a.compare(si, ei - si, b, sj, ej - sj); c != 0) return c < 0;
            i = ei;
            j = ej;
            continue;
        }
        if (a[i] != b[j]) return a[i] < b[j];
        ++i;
        ++j;
    }
    return a.size() - i < b.size() - j;
}

std::vector<int> naturalOrder(const std::vector<std::string>& names) {
    std::vector<int> order(names.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int a, int b) { return naturalLess(names[size_t(a)], names[size_t(b)]); });
    return order;
}

namespace {

// Measures every layer with a foldable batch norm as the engine does: with it folded in.
void foldedStats(LoadedModel& loaded) {
    if (!loaded.topology) return;
    core::RunPlan plan;
    plan.batchNorms = loaded.topology->batchNorms_;
    if (plan.batchNorms.empty()) return;
    for (const auto& bn : plan.batchNorms) {
        const int index = loaded.indexOf(bn.after);
        if (index < 0) continue;
        core::Model one;
        one.info = loaded.model.info;
        one.layers = {loaded.model.layers[size_t(index)]};
        core::RunPlan single;
        single.batchNorms = {bn};
        core::copyBatchNormVectors(loaded.model, single, one);
        try {
            core::foldBatchNorms(one, single);
        } catch (const std::exception&) {
            continue;  // a batch norm that cannot be folded leaves the raw figures
        }
        LayerStats& s = loaded.stats[size_t(index)];
        LayerStats folded = outputStats(one.layers.front());
        if (!folded.valid) continue;
        folded.rawImbalance = s.rawImbalance;
        folded.nonFinite = s.nonFinite;
        folded.foldedBatchNorm = bn.name;
        s = std::move(folded);
    }
}

}  // namespace

std::shared_ptr<const LoadedModel> loadModelWithStats(const QString& path,
                                                      const core::Feedback* feedback) {
    const auto start = std::chrono::steady_clock::now();
    const QFileInfo file(path);
    if (file.exists() && file.size() == 0)
        throw core::inputError("'" + path.toStdString() +
                               "' is empty (0 bytes), not a weight file");
    checkInSeparateProcess(path, feedback);
    auto loaded = std::make_shared<LoadedModel>();
    loaded->path = path;
    // The core's load stage: the input opened once, the weights, batch-norm vectors, graph.
    core::LoadRequest request;
    request.path = path.toStdString();
    core::LoadedInput input = core::loadInput(request, core::Feedback());
    // The only copy of the weights in the application; runs share it read-only.
    loaded->model = std::move(*input.model);
    if (loaded->model.layers.empty())
        throw core::inputError("'" + path.toStdString() +
                               "' holds no layer with weights (no weight or kernel datasets)");
    loaded->stats.reserve(loaded->model.layers.size());
    for (const auto& layer : loaded->model.layers) loaded->stats.push_back(outputStats(layer));
    // The weights are still worth inspecting without a graph; runs and suggestions say why they
    // cannot go on.
    if (input.topology) loaded->topology = *input.topology;
    loaded->topologyError = QString::fromStdString(input.topologyError);
    foldedStats(*loaded);
    // A Keras graph comes with the load (built from the one parse of model_config); an ONNX
    // file's is read from its own parsed copy.
    if (input.graph) {
        loaded->graph = *input.graph;
    } else if (loaded->model.info.format == core::Format::Onnx) {
        try {
            loaded->graph = core::readLayerGraph(loaded->model.info);
        } catch (const std::exception&) {
            // Unreadable graphs are already explained by topologyError.
        }
    }
    std::vector<std::string> names;
    for (const auto& layer : loaded->model.layers) names.push_back(layer.info.name);
    if (loaded->topology && loaded->topology->known()) {
        loaded->displayOrder.resize(names.size());
        std::iota(loaded->displayOrder.begin(), loaded->displayOrder.end(), 0);
    } else {
        loaded->displayOrder = naturalOrder(names);
    }
    loaded->seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return loaded;
}

}  // namespace cle::ui
