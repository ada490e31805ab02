#pragma once
// What the pair finder, the evaluator and the export need to know about single ONNX nodes.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "formats/onnx/onnx_graph.h"

namespace cle::core::onnxfmt {

/// What a node between two layers does to a pair: passes positive per-channel scales, clips
/// (ReLU6), is a batch norm to fold, a global pooling (only before Gemm / MatMul), or ends it.
enum class Step { Pass, Relu6, BatchNorm, GlobalPool, Reject };

/// The step of node `n`; `reason` says why for Reject.
Step classify(const Graph& g, const Node& n, std::string& reason);

/// The values of input `k` of `n` when it is a tensor stored in the file (initializer or
/// Constant); nothing when absent or computed.
std::optional<std::vector<double>> constantInput(const Graph& g, const Node& n, size_t k);

/// A Clip's bounds: attributes `min`/`max` before opset 11, the optional constant inputs from
/// it. Nothing when a bound is computed in the graph.
std::optional<std::pair<double, double>> clipBounds(const Graph& g, const Node& n);

/// A Pad node's pads ([begin..., end...] over every axis), mode and constant value; nothing when
/// they are computed in the graph or the node names axes.
struct PadSpec {
    std::vector<std::int64_t> pads;
    std::string mode = "constant";
    double value = 0;
};
std::optional<PadSpec> padSpec(const Graph& g, const Node& n);

}  // namespace cle::core::onnxfmt
