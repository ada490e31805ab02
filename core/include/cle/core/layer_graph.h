#pragma once
// The layer graph of a weight file, as a viewer draws it: every layer of the model (weighted or
// not) with its class and the weighted layers it holds, and the connections between layers.
#include <optional>
#include <string>
#include <vector>

#include "cle/core/weight_file.h"

namespace cle::core {

struct GraphNode {
    std::string name;
    std::string cls;  ///< Keras class_name, e.g. "Conv2D", "ReLU", "Add"
    /// The file's layers with weights this node holds, by the names inspect prints (a
    /// SeparableConv2D holds "name/depthwise" and "name/pointwise"); empty for activations,
    /// pools, Adds, Concatenates.
    std::vector<std::string> weighted;
    bool nested = false;  ///< a nested model, drawn as one node
};

struct GraphEdge {
    int from = 0;  ///< indices into LayerGraph::nodes
    int to = 0;
};

struct LayerGraph {
    std::vector<GraphNode> nodes;  ///< in the model's config order
    std::vector<GraphEdge> edges;  ///< producer -> consumer, one per distinct connection

    /// Index of the node named `name`, or of the node holding the weighted layer `name`; -1
    /// when none.
    int find(const std::string& name) const;
};

/// The graph of `info`'s file from its model_config (Keras files); nullopt for files without
/// one (PyTorch state dicts, Keras 3 .weights.h5). Throws Error naming the file when the
/// model_config cannot be read.
std::optional<LayerGraph> readLayerGraph(const ModelInfo& info);
/// The same from the model_config text already read (Model::modelConfig), without the file.
std::optional<LayerGraph> readLayerGraph(const ModelInfo& info, const std::string& modelConfig);

}  // namespace cle::core
