#pragma once
// A dense float32 tensor in row-major (C) order, as HDF5 stores it.
#include <cstdint>
#include <vector>

namespace cle::core {

struct Tensor {
    std::vector<std::int64_t> shape;  ///< dimensions, outermost first
    std::vector<float> values;        ///< row-major, size == product of shape

    std::int64_t size() const {
        std::int64_t n = 1;
        for (auto d : shape) n *= d;
        return n;
    }
    int rank() const { return static_cast<int>(shape.size()); }
};

/// Per-channel statistics of a tensor along one axis (max and min over every other axis).
struct ChannelStats {
    std::vector<float> min;
    std::vector<float> max;
    /// max - min per channel, in float32, exactly as the reference computes it.
    std::vector<float> range() const;
};

/// Statistics along `axis`; axis must be within the tensor's rank.
ChannelStats channelStats(const Tensor& t, int axis);

/// Largest / smallest non-zero channel range (the "range imbalance"); channels of zero range are
/// left out (they are reported as dead or constant); 1 for an empty or all-zero tensor.
double rangeImbalance(const std::vector<float>& ranges);

}  // namespace cle::core
