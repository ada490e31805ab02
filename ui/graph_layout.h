#pragma once
// A layer graph laid out top to bottom by Graphviz (dot, through its C API): node boxes and edge
// curves in scene coordinates (points, y growing downwards). Qt-free in its input; it touches no
// widget, so it can run in the loading thread.
#include <vector>

#include <QPainterPath>
#include <QRectF>
#include <QString>

#include "cle/core/layer_graph.h"

namespace cle::ui {

struct GraphLayout {
    std::vector<QRectF> nodes;        ///< same order as LayerGraph::nodes
    std::vector<QPainterPath> edges;  ///< same order as LayerGraph::edges
    QRectF bounds;
    QString error;  ///< why there is no layout ("" when laid out)

    bool valid() const { return error.isEmpty() && !nodes.empty(); }
};

/// The text a node shows: its name, and its class where that says more.
QString nodeLabel(const core::GraphNode& node);

/// Lays `graph` out with Graphviz's dot, top to bottom, each node sized to its label.
GraphLayout layoutGraph(const core::LayerGraph& graph);

}  // namespace cle::ui
