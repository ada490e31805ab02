#pragma once
// A model loaded for the application: the core's Model plus the per-layer statistics the layer
// table and the channel plot show, computed once in the loading thread.
#include <memory>
#include <optional>
#include <vector>

#include <QString>

#include "cle/core/model.h"
#include "cle/core/tensor.h"
#include "cle/core/topology.h"

namespace cle::ui {

struct LayerStats {
    bool valid = false;        ///< false when the layer's output axis cannot be determined
    core::ChannelStats out;    ///< per-output-channel min and max
    std::vector<float> range;  ///< per-output-channel max - min
    double imbalance = 0;      ///< largest / smallest range (+inf when a range is 0)
};

struct LoadedModel {
    QString path;
    core::Model model;
    std::vector<LayerStats> stats;  ///< same order as model.layers
    /// The layer graph (or the guessed one), built once; empty when the file's model_config
    /// cannot be read, with the reason in topologyError.
    std::optional<core::Topology> topology;
    QString topologyError;
    double seconds = 0;             ///< wall time of the load

    int indexOf(const std::string& name) const;
};

/// Statistics of one layer along its output axis; invalid (not thrown) when the axis is unknown.
LayerStats outputStats(const core::Layer& layer);

/// Loads `path` and computes every layer's statistics. Throws core::Error on failure. Meant to be
/// called from a worker thread: it touches no Qt object.
std::shared_ptr<const LoadedModel> loadModelWithStats(const QString& path);

}  // namespace cle::ui
