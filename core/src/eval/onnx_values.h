#pragma once
// What the ONNX compiler knows about each tensor of the graph: a constant (evaluated while
// compiling) or a slot of the program with its axes' order and per-sample shape.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "formats/onnx/onnx_graph.h"

namespace cle::core::eval {

struct OnnxValue {
    bool constant = false;
    std::vector<std::int64_t> dims;  ///< constant: its full shape
    std::vector<double> numbers;     ///< constant: its values, row-major
    int slot = -1;                   ///< runtime: the program slot
    /// Runtime: the ONNX axis (1 .. rank-1; 0 is the batch) each stored per-sample axis holds.
    std::vector<int> order;
    std::vector<std::int64_t> shape;  ///< runtime: the stored per-sample shape
};

/// Evaluates `n` when every input it reads is a constant and its op computes shapes (Shape of a
/// runtime value counts: its shape is known) — Shape, Gather, Unsqueeze, Squeeze, Concat, Cast,
/// ConstantOfShape, Identity, Reshape, Range-free arithmetic (Add, Sub, Mul, Div). Nothing when it
/// does not apply. Throws an input Error for inputs that do not fit the op.
std::optional<OnnxValue> foldConstant(const onnxfmt::Graph& g, const onnxfmt::Node& n,
                                      const std::vector<const OnnxValue*>& in);

/// `v` as an integer; an input Error naming node `n` for values that are not integers below 2^62
/// (a crafted shape or index).
std::int64_t integerOf(double v, const onnxfmt::Node& n);

/// The ONNX shape (batch 1) of a runtime value.
std::vector<std::int64_t> onnxShape(const OnnxValue& v);

}  // namespace cle::core::eval
