#pragma once
// Regions of a layer graph: the layers whose outputs meet at Adds, Concatenates or fan-outs and the
// layers that read them, equalized together with one factor per channel. The finder reads the
// graph as keras::Node values; other graphs (ONNX) are presented in that form.
#include <functional>
#include <optional>
#include <string>

#include "cle/core/topology.h"
#include "graph/keras_graph.h"

namespace cle::core::detail {

/// How a layer without weights relates to a positive per-channel scale.
enum class RegionStep { Pass, Relu6, BatchNorm, Reject };

/// The class of a node that stands for a constant zero tensor joined by a Concatenate (its
/// config's "channels" gives how many channels it adds; they stay zero under any scale).
inline constexpr const char* kZeroConstant = "ZeroConstant";
/// The class of a node that stands for any other constant joined by a Concatenate.
inline constexpr const char* kConstant = "Constant";

/// What the region finder needs to know about the graph's layers from the pair finder.
struct RegionContext {
    const ModelInfo& info;
    /// Every node (the seeds are its terminal ones) and a node by name (nullptr when none).
    const std::vector<keras::Node>& nodes;
    std::function<const keras::Node*(const std::string&)> find;
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
    /// Why a Concatenate does not join along the channel axis, or nullopt; `source` is a source
    /// layer of the region (nullptr when unknown). Unset: Keras' rule (axis -1 or the last axis).
    std::function<std::optional<std::string>(const keras::Node& concat, const LayerInfo* source)>
        concatProblem;
};

/// Adds every region of `context.graph` that is more than a plain chain (several sources, several
/// sinks, or an Add or Concatenate) to `topology.regions_`, or to `topology.rejectedRegions_` with
/// the reason equalizing it would change the function.
void findRegions(const RegionContext& context, Topology& topology);

/// The reason a region crossing `relu6` needs --allow-relu6.
std::string regionRelu6Reason(const std::vector<std::string>& relu6);

}  // namespace cle::core::detail
