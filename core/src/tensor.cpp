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
    if (ranges.empty()) return 1.0;
    auto [lo, hi] = std::minmax_element(ranges.begin(), ranges.end());
    if (*hi == 0.f) return 1.0;
    if (*lo == 0.f) return std::numeric_limits<double>::infinity();
    return double(*hi) / double(*lo);
}

}  // namespace cle::core
