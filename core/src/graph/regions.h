#pragma once
// Regions of a Keras layer graph: the layers whose outputs meet at Adds, Concatenates or fan-outs
// and the layers that read them, equalized together with one factor per channel.
#include <functional>
#include <optional>
#include <string>

#include "cle/core/topology.h"
#include "graph/keras_graph.h"

namespace cle::core::detail {

/// How a layer without weights relates to a positive per-channel scale.
enum class RegionStep { Pass, Relu6, BatchNorm, Reject };

/// What the region finder needs to know about the graph's layers from the pair finder.
struct RegionContext {
    const ModelInfo& info;
    const keras::Graph& graph;
    /// A layer with weights (or an opaque one): regions end at it.
    std::function<bool(const keras::Node&)> terminal;
    /// The weighted layer that reads a node's input / writes its output.
    std::function<std::string(const keras::Node&)> firstLayer;
    std::function<std::string(const keras::Node&)> lastLayer;
    /// Why a weighted layer cannot be a source (asSource) or a sink, or nullopt.
    std::function<std::optional<std::string>(const keras::Node&, bool asSource)> layerProblem;
    /// How a layer without weights behaves; sets the reason for Reject.
    std::function<RegionStep(const keras::Node&, std::string&)> classify;
    /// The batch norm `bn` after `layer` as a foldable reference, or nullopt with the problem.
    std::function<std::optional<BatchNormRef>(const keras::Node& layer, const keras::Node& bn,
                                              std::string* problem)>
        foldBatchNorm;
    /// The activation a weighted layer applies itself ("linear" when none).
    std::function<std::string(const keras::Node&)> activation;
};

/// Adds every region of `context.graph` that is more than a plain chain (several sources, several
/// sinks, or an Add or Concatenate) to `topology.regions_`, or to `topology.rejectedRegions_` with
/// the reason equalizing it would change the function.
void findRegions(const RegionContext& context, Topology& topology);

/// The reason a region crossing `relu6` needs --allow-relu6.
std::string regionRelu6Reason(const std::vector<std::string>& relu6);

}  // namespace cle::core::detail
