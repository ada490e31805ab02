#include "cle/core/quantization.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace cle::core {

namespace {

// Sum of squares of the values and of their INT8 quantization error, for the elements of one
// channel (or the whole tensor) with a given max |w|.
struct Energy {
    double signal = 0;
    double noise = 0;
};

void accumulate(float w, float scale, Energy& e) {
    e.signal += double(w) * w;
    if (scale == 0.f) return;
    // nearbyint rounds half to even in the default rounding mode.
    float q = std::clamp(std::nearbyint(w / scale), -127.f, 127.f) * scale;
    e.noise += double(w - q) * (w - q);
}

double decibels(const Energy& e) {
    if (e.noise == 0) return std::numeric_limits<double>::infinity();
    return 10.0 * std::log10(e.signal / e.noise);
}

}  // namespace

double sqnrPerTensor(const Tensor& t) {
    float maxAbs = 0;
    for (float w : t.values) maxAbs = std::max(maxAbs, std::abs(w));
    Energy e;
    for (float w : t.values) accumulate(w, maxAbs / 127.f, e);
    return decibels(e);
}

double sqnrPerChannel(const Tensor& t, int axis) {
    auto stats = channelStats(t, axis);
    std::vector<float> scale(stats.min.size());
    for (size_t c = 0; c < scale.size(); ++c)
        scale[c] = std::max(std::abs(stats.min[c]), std::abs(stats.max[c])) / 127.f;
    std::int64_t inner = 1, channels = t.shape[size_t(axis)];
    for (int i = axis + 1; i < t.rank(); ++i) inner *= t.shape[size_t(i)];
    Energy e;
    for (size_t i = 0; i < t.values.size(); ++i)
        accumulate(t.values[i], scale[size_t((std::int64_t(i) / inner) % channels)], e);
    return decibels(e);
}

namespace {

SqnrStats summarize(const std::vector<LayerSqnr>& layers, double LayerSqnr::*field) {
    SqnrStats s;
    if (layers.empty()) return s;
    std::vector<double> v;
    double weighted = 0, total = 0;
    for (const auto& l : layers) {
        double x = l.*field;
        v.push_back(x);
        if (std::isfinite(x)) {
            weighted += x * double(l.parameters);
            total += double(l.parameters);
        }
    }
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    s.worst = v.front();
    s.weightedMean = total > 0 ? weighted / total : v.front();
    return s;
}

}  // namespace

QuantizationReport quantizationBefore(const Model& model, const std::vector<std::string>& layers) {
    QuantizationReport r;
    for (const auto& name : layers) {
        const Layer* b = model.find(name);
        if (!b || b->weight.values.empty()) continue;
        LayerSqnr l;
        l.name = name;
        l.parameters = b->weight.size();
        l.perTensorBefore = sqnrPerTensor(b->weight);
        l.perChannelBefore = sqnrPerChannel(b->weight, b->info.outAxis());
        r.layers.push_back(l);
    }
    return r;
}

void quantizationAfter(QuantizationReport& r, const std::vector<Layer>& after) {
    for (auto& l : r.layers) {
        auto it = std::find_if(after.begin(), after.end(),
                               [&](const Layer& a) { return a.info.name == l.name; });
        if (it == after.end()) continue;
        l.perTensorAfter = sqnrPerTensor(it->weight);
        l.perChannelAfter = sqnrPerChannel(it->weight, it->info.outAxis());
    }
    r.perTensorBefore = summarize(r.layers, &LayerSqnr::perTensorBefore);
    r.perTensorAfter = summarize(r.layers, &LayerSqnr::perTensorAfter);
    r.perChannelBefore = summarize(r.layers, &LayerSqnr::perChannelBefore);
    r.perChannelAfter = summarize(r.layers, &LayerSqnr::perChannelAfter);
}

}  // namespace cle::core
