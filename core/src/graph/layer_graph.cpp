#include "cle/core/layer_graph.h"

#include <map>
#include <set>

#include "formats/onnx/onnx_pairs.h"
#include "formats/open_input.h"
#include "graph/keras_graph.h"
#include "hdf5/h5.h"

namespace cle::core {

int LayerGraph::find(const std::string& name) const {
    for (size_t i = 0; i < nodes.size(); ++i) {
        if (nodes[i].name == name) return int(i);
        for (const auto& w : nodes[i].weighted)
            if (w == name) return int(i);
    }
    return -1;
}

std::optional<LayerGraph> readLayerGraph(const ModelInfo& info) {
    if (info.format == Format::Onnx) return onnxfmt::layerGraph(info);
    if (info.format != Format::Keras2 && info.format != Format::Keras3) return std::nullopt;
    std::string text;
    {
        h5::Silence quiet;
        h5::Handle file = h5::openExisting(info.path, false);
        text = keras::readRootString(file.get(), "model_config");
    }
    return readLayerGraph(info, text);
}

std::optional<LayerGraph> readLayerGraph(const ModelInfo& info, const std::string& text) {
    if (info.format == Format::Onnx) return onnxfmt::layerGraph(info);  // the node graph
    if (info.format != Format::Keras2 && info.format != Format::Keras3) return std::nullopt;
    if (text.empty()) return std::nullopt;
    return keras::layerGraph(info, keras::Graph::parse(text, info.path));
}

LayerGraph keras::layerGraph(const ModelInfo& info, const Graph& graph) {
    LayerGraph out;
    std::map<std::string, int> index;
    for (const auto& node : graph.nodes()) {
        GraphNode g{node.name, node.cls, {}, node.nested};
        const std::string prefix = node.name + "/";
        for (const auto& layer : info.layers)
            if (layer.name == node.name || layer.name.compare(0, prefix.size(), prefix) == 0)
                g.weighted.push_back(layer.name);
        index[node.name] = int(out.nodes.size());
        out.nodes.push_back(std::move(g));
    }
    std::set<std::pair<int, int>> seen;
    for (const auto& node : graph.nodes())
        for (const auto& input : node.inputs) {
            auto from = index.find(input);
            if (from == index.end()) continue;
            const std::pair<int, int> e{from->second, index[node.name]};
            if (seen.insert(e).second) out.edges.push_back({e.first, e.second});
        }
    return out;
}

}  // namespace cle::core
