#pragma once
// From an ONNX node graph and a Model's weights to the evaluator's program. Activations are held
// per sample with their axes in any order the compiler tracks (convolutions want the channels
// last); shape computations on constants are evaluated while compiling.
#include <string>
#include <vector>

#include "program.h"

namespace cle::core::eval {

/// The program of the ONNX model at `path` with `model`'s weights. Throws an input Error naming
/// the node and its op for anything that cannot be evaluated.
Program compileOnnx(const std::string& path, const Model& model, const NetworkOptions& options);

/// The Clip nodes that `candidate` relaxes (its max left out) against `original`; any other
/// difference of the two graphs is an input Error naming the node.
std::vector<std::string> onnxRelaxedNodes(const std::string& original,
                                          const std::string& candidate);

}  // namespace cle::core::eval
