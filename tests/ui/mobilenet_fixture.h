#pragma once
// A MobileNetV2-like Keras 2 network for tests and screenshots: a stem convolution, inverted
// residual blocks (1x1 expand, 3x3 depthwise, 1x1 project, each with a batch norm, ReLU6 after
// the first two, a residual Add where the shapes allow) and a classifier head.
#include <string>
#include <vector>

#include "test_support.h"

namespace cle::test {

/// The layers of a network with `blocks` inverted residual blocks (3 weighted layers each) plus
/// the stem, the first block without expansion, the last 1x1 convolution and a Dense head:
/// 3 * blocks + 5 weighted layers.
std::vector<KerasLayer> mobileNetLikeLayers(int blocks);

/// Writes mobileNetLikeLayers(blocks) as a Keras 2 .h5 file (16 blocks: 53 weighted layers).
void writeMobileNetLike(const std::string& path, int blocks = 16, unsigned seed = 5);

}  // namespace cle::test
