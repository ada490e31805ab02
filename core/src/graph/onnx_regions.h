#pragma once
// Regions of an ONNX node graph, found by the region finder of Keras graphs (graph/regions.h) on
// the nodes presented as keras::Node values.
#include "cle/core/topology.h"

namespace cle::core::onnxfmt {
class Graph;
}

namespace cle::core::detail {

/// Adds the regions of `graph` (and the refused ones with their reason) to `topology`: Add inputs
/// share channels, Concat inputs (channel axis 1) own slices, a zero constant joined by a Concat
/// (ConstantOfShape with a stored shape, or a stored tensor of zeros) adds channels that stay
/// zero; reading a region tensor's shape (Shape) does not depend on its values.
void findOnnxRegions(const ModelInfo& info, const onnxfmt::Graph& graph, Topology& topology);

}  // namespace cle::core::detail
