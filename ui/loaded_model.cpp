#include "ui/loaded_model.h"

#include <chrono>
#include <exception>

namespace cle::ui {

int LoadedModel::indexOf(const std::string& name) const
{
    for (size_t i = 0; i < model.layers.size(); ++i)
        if (model.layers[i].info.name == name) return static_cast<int>(i);
    return -1;
}

LayerStats outputStats(const core::Layer& layer)
{
    LayerStats s;
    try {
        if (layer.weight.rank() < 1 || layer.weight.values.empty()) return s;
        const int axis = layer.weight.rank() == 1 ? 0 : layer.info.outAxis();
        if (axis < 0 || axis >= layer.weight.rank()) return s;
        s.out = core::channelStats(layer.weight, axis);
        s.range = s.out.range();
        s.imbalance = core::rangeImbalance(s.range);
        s.valid = true;
    } catch (const std::exception&) {
        // A layer the core cannot describe is still listed; it just has no statistics.
        s = LayerStats{};
    }
    return s;
}

std::shared_ptr<const LoadedModel> loadModelWithStats(const QString& path)
{
    const auto start = std::chrono::steady_clock::now();
    auto loaded = std::make_shared<LoadedModel>();
    loaded->path = path;
    loaded->model = core::loadModel(path.toStdString());
    loaded->stats.reserve(loaded->model.layers.size());
    for (const auto& layer : loaded->model.layers) loaded->stats.push_back(outputStats(layer));
    try {
        loaded->topology = core::Topology::build(loaded->model.info);
    } catch (const std::exception& e) {
        // The weights are still worth inspecting; runs and suggestions say why they cannot go on.
        loaded->topologyError = QString::fromStdString(e.what());
    }
    loaded->seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return loaded;
}

}  // namespace cle::ui
