#pragma once
// What the layers of a Keras graph do to the channels of a pair: the layers a positive
// per-channel scale passes through, those that stop a pair, and why. The pair finder
// (keras_pairs.cpp) walks the graph; these judge one layer at a time.
#include <optional>
#include <string>
#include <vector>

#include "cle/core/weight_file.h"
#include "graph/keras_graph.h"

namespace cle::core::keras {

/// What a layer between the two layers of a pair does to the channels.
enum class Step { Pass, Relu6, BatchNorm, GlobalPool, Reject };

/// A layer kind that holds weights (convolutions, Dense, recurrent and attention layers).
bool weightedClass(const std::string& cls);

/// An activation function by name: Pass, Relu6 (clipping) or Reject (not homogeneous).
Step activationStep(const std::string& act);

/// What `n` does between the two layers of a pair; for Reject, `reason` says why.
Step classify(const Node& n, std::string& reason);

/// Why `n` combines the path with other tensors (Add, Concatenate, several inputs); nullopt when
/// it does not.
std::optional<std::string> mergeProblem(const Node& n);

/// Why the output of `n` goes somewhere besides the path (several consumers, a model output, a
/// shared layer); nullopt when it does not.
std::optional<std::string> fanOut(const Node& n);

/// Why the weighted layer `n` cannot have its channels scaled one by one (transposed, grouped,
/// depth multiplier above 1), in the words `cle inspect` uses; `asFirst`: as a pair's first
/// layer, where a separable convolution's pointwise half is the one scaled.
std::optional<std::string> kindProblem(const Node& n, bool asFirst);

/// Why batch norm `bn` after `layer` (whose last weighted tensor is `info`) does not normalize
/// the layer's channel axis; nullopt when it does.
std::optional<std::string> axisProblem(const Node& layer, const LayerInfo& info, const Node& bn);

/// `path` (the layers between a pair) is batch norm -> ReLU -> layers that neither clip nor
/// activate: the DFQ high-bias absorption applies.
bool reluAfterBatchNorm(const std::vector<const Node*>& path);

}  // namespace cle::core::keras
