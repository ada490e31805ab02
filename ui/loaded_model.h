#pragma once
// A model loaded for the application: the core's Model plus the per-layer statistics the layer
// table and the channel plot show, computed once in the loading thread.
#include <memory>
#include <optional>
#include <vector>

#include <QString>

#include "cle/core/feedback.h"
#include "cle/core/layer_graph.h"
#include "cle/core/model.h"
#include "cle/core/tensor.h"
#include "cle/core/topology.h"

namespace cle::ui {

struct LayerStats {
    bool valid = false;        ///< false when the layer's output axis cannot be determined
    core::ChannelStats out;    ///< per-output-channel min and max
    std::vector<float> range;  ///< per-output-channel max - min
    double imbalance = 0;      ///< largest / smallest range (+inf when a range is 0)
    /// The batch norm folded into the weights measured (as a run measures them), "" when none.
    std::string foldedBatchNorm;
    double rawImbalance = 0;     ///< imbalance of the stored weights, before any folding
    std::int64_t nonFinite = 0;  ///< NaN or infinite weights
};

struct LoadedModel {
    QString path;
    core::Model model;
    std::vector<LayerStats> stats;  ///< same order as model.layers
    /// The layer graph (or the guessed one), built once; empty when the file's model_config
    /// cannot be read, with the reason in topologyError.
    std::optional<core::Topology> topology;
    QString topologyError;
    /// Every layer and connection of the file's graph, for the graph view (none without one).
    std::optional<core::LayerGraph> graph;
    double seconds = 0;  ///< wall time of the load
    /// Indices into model.layers in the order the application lists them: the graph's order,
    /// or natural name order (block_2 before block_10) for files without a graph.
    std::vector<int> displayOrder;

    int indexOf(const std::string& name) const;
};

/// Statistics of one layer along its output axis; invalid (not thrown) when the axis is unknown.
LayerStats outputStats(const core::Layer& layer);

/// Natural order of two names: digit runs compare as numbers ("block_2" < "block_10").
bool naturalLess(const std::string& a, const std::string& b);
/// Indices of `names` in natural order: digit runs compare as numbers ("block_2" < "block_10").
std::vector<int> naturalOrder(const std::vector<std::string>& names);

/// Loads `path` and computes every layer's statistics, with the batch norm the topology would
/// fold into a layer folded in. An empty file, or one without any layer with weights, is an
/// error (core::Error). Throws core::Error on failure. Meant to be
/// called from a worker thread: it touches no Qt object. `feedback` (optional) stops the check
/// that comes first (checkInSeparateProcess).
std::shared_ptr<const LoadedModel> loadModelWithStats(const QString& path,
                                                      const core::Feedback* feedback = nullptr);

}  // namespace cle::ui
