#include "cle/core/tensor.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace cle::core {

std::vector<float> ChannelStats::range() const {
    std::vector<float> r(max.size());
    for (size_t c = 0; c < r.size(); ++c) r[c] = max[c] - min[c];
    return r;
}

ChannelStats channelStats(const Tensor& t, int axis) {
    if (axis < 0 || axis >= t.rank()) throw std::out_of_range("channelStats: axis out of range");
    std::int64_t outer = 1, inner = 1, channels = t.shape[static_cast<size_t>(axis)];
    for (int i = 0; i < axis; ++i) outer *= t.shape[static_cast<size_t>(i)];
    for (int i = axis + 1; i < t.rank(); ++i) inner *= t.shape[static_cast<size_t>(i)];
    ChannelStats s;
    s.min.assign(static_cast<size_t>(channels), std::numeric_limits<float>::infinity());
    s.max.assign(static_cast<size_t>(channels), -std::numeric_limits<float>::infinity());
    const float* p = t.values.data();
    for (std::int64_t o = 0; o < outer; ++o) {
        for (std::int64_t c = 0; c < channels; ++c) {
            float lo = s.min[static_cast<size_t>(c)], hi = s.max[static_cast<size_t>(c)];
            for (std::int64_t i = 0; i < inner; ++i, ++p) {
                lo = std::min(lo, *p);
                hi = std::max(hi, *p);
            }
            s.min[static_cast<size_t>(c)] = lo;
            s.max[static_cast<size_t>(c)] = hi;
        }
    }
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
