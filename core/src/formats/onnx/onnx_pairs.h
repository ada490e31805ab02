#pragma once
// Pairs and the drawable layer graph of an ONNX model, by the same rules and reasons as for a
// Keras layer graph.
#include "cle/core/layer_graph.h"
#include "cle/core/topology.h"

namespace cle::core::onnxfmt {

/// Fills `topology` from the node graph of the ONNX model `info` describes.
void analysePairs(const ModelInfo& info, Topology& topology);

/// The model's nodes (Constant nodes left out) and the tensors between them.
LayerGraph layerGraph(const ModelInfo& info);


}  // namespace cle::core::onnxfmt
