#pragma once
// The outline of a graph node: by its kind, or, for the layers of the region the plots show, the
// region's source and sink colours.
#include <vector>

#include <QColor>
#include <QPen>

#include "cle/core/layer_graph.h"
#include "cle/core/pairs.h"

class QGraphicsPathItem;

namespace cle::ui {

/// Outline of a region's sources and of its sinks (a layer that is both: the source colour).
inline const QColor kRegionSource(123, 63, 160);
inline const QColor kRegionSink(10, 143, 168);

/// The outline a node has when no region is shown.
QPen nodePen(const core::GraphNode& node);
/// Outlines the nodes holding `region`'s sources and sinks (null: every node as by nodePen).
void outlineRegion(const core::LayerGraph& graph, const std::vector<QGraphicsPathItem*>& items,
                   const core::Region* region);

}  // namespace cle::ui
