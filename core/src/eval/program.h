#pragma once
// The evaluator's compiled form of a layer graph: operations in execution order over numbered
// tensor slots, each holding its own parameters. Tensors here are one sample (no batch axis).
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "cle/core/evaluator.h"
#include "cle/core/tensor.h"

namespace cle::core::eval {

enum class Kind {
    Input,
    Conv,
    Depthwise,
    Separable,
    Dense,
    BatchNorm,
    Activation,
    Relu,
    Elu,
    ThresholdedRelu,
    PRelu,
    Softmax,
    Pad,
    Crop,
    MaxPool,
    AvgPool,
    GlobalAvg,
    GlobalMax,
    Merge,
    Concat,
    Flatten,
    Reshape,
    Permute,
    Identity,
    UpSample,
    Rescale,
    Constant  ///< a fixed tensor (op.kernel), whatever its input
};

/// Window geometry of convolutions and pooling (1D layers use height 1).
struct Window {
    std::array<long, 2> kernel{1, 1}, stride{1, 1}, dilation{1, 1};
    std::string padding = "valid";  ///< valid, same, causal
};

struct Op {
    Kind kind = Kind::Identity;
    std::string name;  ///< the layer's name ("model/layer" inside a nested model)
    std::string cls;   ///< its class
    std::vector<int> in;
    int out = -1;

    Window window;
    bool oneD = false;
    long groups = 1, multiplier = 1;
    std::array<long, 4> pad{0, 0, 0, 0};  ///< top, bottom, left, right (padding, cropping)
    std::string activation = "linear";    ///< fused (Conv, Dense) or the Activation layer's
    Tensor kernel;                        ///< Conv/Dense kernel; a separable layer's depthwise
    Tensor pointwise;                     ///< a separable layer's pointwise kernel
    std::vector<float> bias;              ///< empty: no bias
    std::vector<float> scale, shift;      ///< BatchNorm (folded), Rescale, PReLU alpha (scale)
    long axis = -1;                       ///< Keras axis (with the batch axis)
    double maxValue = -1, slope = 0, threshold = 0;  ///< ReLU (maxValue < 0: none), ELU alpha
    std::string merge;  ///< add, subtract, multiply, average, maximum, minimum
    bool bilinear = false, keepDims = false;
    std::vector<std::int64_t> dims;  ///< Reshape target, Permute order, UpSample size
};

struct Program {
    std::vector<Op> ops;
    std::vector<NetworkInput> inputs;
    std::vector<int> inputSlots;
    std::vector<int> outputSlots;
    int slots = 0;
    std::string path;  ///< the file whose network this is, named in errors
};

/// Builds the program of `path`'s model_config with `model`'s weights.
Program compile(const std::string& path, const Model& model, const NetworkOptions& options);

/// Runs one op on its inputs (single samples); `noSoftmax` leaves out a final softmax.
Tensor runOp(const Op& op, const std::vector<const Tensor*>& in, bool noSoftmax);

/// Layer implementations, by family.
Tensor convolution(const Op& op, const Tensor& x);
Tensor depthwise(const Tensor& kernel, const Window& w, long multiplier, bool oneD,
                 const Tensor& x);
/// x [..., in] times kernel [in, units] plus bias.
Tensor dense(const float* kernel, long in, long units, const std::vector<float>& bias,
             const std::string& name, const Tensor& x);
void addChannelBias(const std::vector<float>& bias, Tensor& y);
Tensor pooling(const Op& op, const Tensor& x);
Tensor globalPooling(const Op& op, const Tensor& x);
Tensor padOrCrop(const Op& op, const Tensor& x);
Tensor upSample(const Op& op, const Tensor& x);
void activate(const std::string& fn, Tensor& x, bool noSoftmax);
Tensor elementwise(const Op& op, const Tensor& x);
Tensor combine(const Op& op, const std::vector<const Tensor*>& in);
Tensor reshape(const Op& op, const Tensor& x);

/// Convolutions and Dense layers (their inputs are what W8A8 rounds).
bool hasWeights(Kind k);
/// Rounds `x` to UINT8 over [lo, hi] (widened to include 0) and back to float.
void quantizeActivation(Tensor& x, float lo, float hi);

/// Folds each batch norm that directly follows a linear weighted op into it.
void foldBatchNorms(Program& p);
void quantizeWeights(Program& p, WeightQuantization q);

/// The per-sample axis of a Keras axis (counting the batch axis) for a tensor of `rank`.
long sampleAxis(long kerasAxis, int rank, const std::string& layer);

}  // namespace cle::core::eval
