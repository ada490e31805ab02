#include "cle/core/tensor.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <utility>

#include "engine/channel_kernel.h"

namespace cle::core {

std::vector<float> ChannelStats::range() const {
    std::vector<float> r(max.size());
    for (size_t c = 0; c < r.size(); ++c) r[c] = max[c] - min[c];
    return r;
}

ChannelStats channelStats(const Tensor& t, int axis) {
    if (axis < 0 || axis >= t.rank()) throw std::out_of_range("channelStats: axis out of range");
    // The engine's own measuring pass, seen with one channel axis.
    kernel::Stats k = kernel::measure(t.values.data(), kernel::makeView(t.shape, axis, axis), 1);
    ChannelStats s;
    s.min = std::move(k.outMin);
    s.max = std::move(k.outMax);
    return s;
}

double rangeImbalance(const std::vector<float>& ranges) {
    // Channels of zero range (dead, or constant) are reported on their own; they would make
    // every such layer's imbalance infinite and hide what equalization did to the others.
    float lo = std::numeric_limits<float>::infinity(), hi = 0.f;
    for (float r : ranges)
        if (r > 0.f) {
            lo = std::min(lo, r);
            hi = std::max(hi, r);
        }
    if (hi == 0.f) return 1.0;
    return double(hi) / double(lo);
}

}  // namespace cle::core
