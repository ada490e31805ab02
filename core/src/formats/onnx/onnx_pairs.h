#pragma once
// Pairs and the drawable layer graph of an ONNX model, by the same rules and reasons as for a
// Keras layer graph.
#include <optional>
#include <string>

#include "cle/core/layer_graph.h"
#include "cle/core/topology.h"

namespace cle::core::onnxfmt {

class Graph;
struct Node;

/// Fills `topology` from the node graph of the ONNX model `info` describes.
void analysePairs(const ModelInfo& info, Topology& topology);
/// The same on the model's graph, read already.
void analysePairs(const ModelInfo& info, const Graph& graph, Topology& topology);

/// Whether an op is a layer with weights (Conv, Gemm, MatMul, ConvTranspose).
bool weightedOp(const std::string& op);
/// Why the layer node `n` cannot be equalized (weights computed in the graph, a layer that is not
/// supported), or nullopt.
std::optional<std::string> layerNodeProblem(const ModelInfo& info, const Node& n);
/// The batch norm `bn` reading `layer`'s output as a foldable reference, or nullopt with the
/// reason in `problem` (when not null).
std::optional<BatchNormRef> foldableBatchNorm(const ModelInfo& info, const Graph& g,
                                              const Node& layer, const Node& bn,
                                              std::string* problem);

/// The model's nodes (Constant nodes left out) and the tensors between them.
LayerGraph layerGraph(const ModelInfo& info);

}  // namespace cle::core::onnxfmt
