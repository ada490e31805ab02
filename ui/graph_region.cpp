#include "ui/graph_region.h"

#include <algorithm>

#include <QGraphicsPathItem>

namespace cle::ui {

QPen nodePen(const core::GraphNode& node) {
    const bool weighted = !node.weighted.empty();
    return QPen(weighted ? QColor(31, 119, 180) : QColor(140, 140, 140), weighted ? 1.6 : 1.0);
}

void outlineRegion(const core::LayerGraph& graph, const std::vector<QGraphicsPathItem*>& items,
                   const core::Region* region) {
    auto holds = [](const core::GraphNode& node, const std::vector<std::string>& layers) {
        return std::any_of(node.weighted.begin(), node.weighted.end(), [&](const auto& w) {
            return std::find(layers.begin(), layers.end(), w) != layers.end();
        });
    };
    for (size_t i = 0; i < items.size() && i < graph.nodes.size(); ++i) {
        const auto& node = graph.nodes[i];
        QPen pen = nodePen(node);
        if (region && holds(node, region->sources))
            pen = QPen(kRegionSource, 4);
        else if (region && holds(node, region->sinks))
            pen = QPen(kRegionSink, 4);
        items[i]->setPen(pen);
    }
}

}  // namespace cle::ui
