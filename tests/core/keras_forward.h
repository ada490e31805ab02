#pragma once
// A small float64 forward pass of a Keras 2 .h5 model as Keras computes it, for tests that check
// that an exported file computes the same function: InputLayer, Conv2D and DepthwiseConv2D
// (stride 1, 'same' or 'valid', channels_last or channels_first), SeparableConv2D,
// BatchNormalization over the channel axis, Activation / ReLU (relu, relu6, max_value, linear),
// LeakyReLU, MaxPooling2D, Add, Multiply, Concatenate (channels), GlobalAveragePooling2D, Dense
// and nested functional models.
#include <string>
#include <vector>

namespace cle::test {

/// One image, height x width x channels, row-major (channels last).
struct Image {
    long h = 1, w = 1, c = 0;
    std::vector<double> v;
};

/// The model's output for `x` (channels last, whatever the layers' data_format); with
/// `relu6AsRelu` every ReLU6 clips at 0 only. Throws std::runtime_error for a layer it does not
/// know.
std::vector<double> kerasForward(const std::string& file, const Image& x, bool relu6AsRelu = false);

/// The largest |a - b| over the largest |a|.
double relativeDifference(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace cle::test
