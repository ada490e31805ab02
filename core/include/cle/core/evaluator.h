#pragma once
// A forward pass of the network described by a Keras file's layer graph (model_config), in
// float32, batched and channels-last, on weights held in memory.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cle/core/tensor.h"

namespace cle::core {

struct Model;
struct Layer;

namespace eval {
struct Program;
}

/// How a run rounds the weights of its convolution and Dense layers.
enum class WeightQuantization { None, PerTensor, PerChannel };

/// One input of a network: its layer name and the shape of one sample (-1 where the model says
/// None; empty when the model does not give it).
struct NetworkInput {
    std::string name;
    std::vector<std::int64_t> shape;
};

/// How the graph is read.
struct NetworkOptions {
    /// Batch norms whose parameters were folded into the layer before them: identities.
    std::vector<std::string> identityNorms;
    /// ReLU6 layers (or layers with a relu6 activation) evaluated as ReLU.
    std::vector<std::string> relaxedRelu6;
    /// Layers evaluated instead of the model's own of the same name (a run's result), so that
    /// the model is not copied to evaluate them; not owned, read only while loading.
    const std::vector<Layer>* layers = nullptr;
};

/// Per-tensor ranges of the input of every weighted layer, from Network::calibrate.
struct ActivationRanges {
    std::vector<float> lo, hi;  ///< indexed by the network's operations
};

struct RunOptions {
    /// Symmetric INT8 rounding of every kernel (scale max|W|/127, round half to even).
    WeightQuantization weights = WeightQuantization::None;
    /// Fold every batch norm that directly follows a linear layer into it first, as deployed.
    bool foldBatchNorms = false;
    /// Outputs that end in a softmax are returned as the values before it.
    bool beforeSoftmax = false;
    /// Rounds the input of every weighted layer to UINT8 (asymmetric, per tensor, the range
    /// widened to include 0) with these ranges.
    const ActivationRanges* activations = nullptr;
    int threads = 0;  ///< 0: one per hardware thread; results do not depend on it
    const std::atomic<bool>* cancel = nullptr;
};

class Network {
public:
    /// The network of the Keras 2 file `path` (its model_config) with the weights and biases of
    /// `model` (loaded from that file or changed in memory); batch norm and PReLU parameters are
    /// read from the file, or from what loadInput recorded when `model` was loaded from `path`
    /// (then the file is not opened). Throws an input Error naming the file, the layer and its
    /// class for a layer that cannot be evaluated, and when the file has no layer graph.
    static Network load(const std::string& path, const Model& model,
                        const NetworkOptions& options = {});

    /// The file the network was loaded from.
    const std::string& path() const;
    const std::vector<NetworkInput>& inputs() const;
    size_t outputCount() const;
    /// Every output is produced by a softmax.
    bool endsInSoftmax() const;
    /// Runs a batch: one tensor [N, ...] per input, in inputs() order; one tensor [N, ...] per
    /// output. Throws an input Error naming the file for a wrong input shape, Cancelled when
    /// `cancel` is set.
    std::vector<Tensor> run(const std::vector<Tensor>& inputs, const RunOptions& options) const;
    /// The ranges of the inputs of the weighted layers over the batch `inputs`, run with
    /// `options` (its weight rounding and batch norm folding).
    ActivationRanges calibrate(const std::vector<Tensor>& inputs, const RunOptions& options) const;

private:
    std::shared_ptr<const eval::Program> program_;
};

}  // namespace cle::core
