#include "cle/core/quantization.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <thread>
#include <cmath>
#include <limits>

#include "engine/cpu_dispatch.h"

namespace cle::core {

namespace {

// Sum of squares of the values and of their INT8 quantization error; how many values are
// non-zero, and how many of those round to zero.
struct Energy {
    double signal = 0;
    double noise = 0;
    std::int64_t nonZero = 0;
    std::int64_t roundedToZero = 0;
};

// Quantizes x[i] with scale[i] (kPerElement) or with scale[0]; nearbyint rounds half to even in
// the default rounding mode. Built for AVX2 too: this runs over every weight twice per run.
// kCount: also count the non-zero values and those that round to zero (per tensor only).
template <bool kPerElement, bool kCount>
CLE_ALWAYS_INLINE Energy energyBody(const float* x, std::int64_t n, const float* scale) {
    double signal = 0, noise = 0;
    std::int64_t nonZero = 0, roundedToZero = 0;
#pragma omp simd reduction(+ : signal, noise, nonZero, roundedToZero)
    for (std::int64_t i = 0; i < n; ++i) {
        float s = kPerElement ? scale[i] : scale[0];
        float q = s == 0.f ? x[i] : std::clamp(std::nearbyint(x[i] / s), -127.f, 127.f) * s;
        signal += double(x[i]) * x[i];
        noise += double(x[i] - q) * (x[i] - q);
        if constexpr (kCount) {
            nonZero += x[i] != 0.f;
            roundedToZero += (x[i] != 0.f) & (q == 0.f);
        }
    }
    return {signal, noise, nonZero, roundedToZero};
}

template <bool kPerElement, bool kCount>
CLE_AVX2 Energy energyAvx2(const float* x, std::int64_t n, const float* scale) {
    return energyBody<kPerElement, kCount>(x, n, scale);
}

template <bool kPerElement, bool kCount>
Energy energyBaseline(const float* x, std::int64_t n, const float* scale) {
    return energyBody<kPerElement, kCount>(x, n, scale);
}

template <bool kPerElement, bool kCount = false>
Energy energy(const float* x, std::int64_t n, const float* scale) {
    return cpu::hasAvx2() ? energyAvx2<kPerElement, kCount>(x, n, scale)
                          : energyBaseline<kPerElement, kCount>(x, n, scale);
}

void add(Energy& into, const Energy& e) {
    into.signal += e.signal;
    into.noise += e.noise;
    into.nonZero += e.nonZero;
    into.roundedToZero += e.roundedToZero;
}

double decibels(const Energy& e) {
    if (e.noise == 0) return std::numeric_limits<double>::infinity();
    return 10.0 * std::log10(e.signal / e.noise);
}

}  // namespace

double sqnrPerTensor(const Tensor& t) {
    float maxAbs = 0;
    for (float w : t.values) maxAbs = std::max(maxAbs, std::abs(w));
    float scale = maxAbs / 127.f;
    return decibels(energy<false>(t.values.data(), std::int64_t(t.values.size()), &scale));
}

namespace {

double channelEnergy(const Tensor& t, int axis, const ChannelStats& stats) {
    std::vector<float> scale(stats.min.size());
    for (size_t c = 0; c < scale.size(); ++c)
        scale[c] = std::max(std::abs(stats.min[c]), std::abs(stats.max[c])) / 127.f;
    std::int64_t inner = 1, channels = t.shape[size_t(axis)];
    for (int i = axis + 1; i < t.rank(); ++i) inner *= t.shape[size_t(i)];
    Energy e;
    const float* x = t.values.data();
    const std::int64_t rows = t.size() / (channels * inner);
    for (std::int64_t r = 0; r < rows; ++r) {
        if (inner == 1) {  // channels last: one row holds every channel once
            add(e, energy<true>(x, channels, scale.data()));
            x += channels;
            continue;
        }
        for (std::int64_t c = 0; c < channels; ++c, x += inner)
            add(e, energy<false>(x, inner, &scale[size_t(c)]));
    }
    return decibels(e);
}

}  // namespace

double sqnrPerChannel(const Tensor& t, int axis) {
    return channelEnergy(t, axis, channelStats(t, axis));
}

TensorQuantization quantizeInt8(const Tensor& t, int outAxis) {
    TensorQuantization r;
    const ChannelStats stats = channelStats(t, outAxis);
    std::vector<float> channelMaxAbs(stats.min.size());
    float maxAbs = 0;
    for (size_t c = 0; c < channelMaxAbs.size(); ++c) {
        channelMaxAbs[c] = std::max(std::abs(stats.min[c]), std::abs(stats.max[c]));
        maxAbs = std::max(maxAbs, channelMaxAbs[c]);
    }
    const float scale = maxAbs / 127.f;
    const Energy e = energy<false, true>(t.values.data(), std::int64_t(t.values.size()), &scale);
    r.perTensor = decibels(e);
    r.zeroFraction = e.nonZero ? double(e.roundedToZero) / double(e.nonZero) : 0.0;
    // A channel rounds to all zeros exactly when its largest magnitude does.
    for (float m : channelMaxAbs)
        if (m != 0.f && std::nearbyint(m / scale) == 0.f) ++r.zeroedChannels;
    r.perChannel = channelEnergy(t, outAxis, stats);
    return r;
}

namespace {

// Runs work(i) for i in [0, n) on every core; each i writes only its own result.
void parallelFor(size_t n, const std::function<void(size_t)>& work) {
    std::atomic<size_t> next{0};
    auto worker = [&] {
        for (size_t i; (i = next.fetch_add(1)) < n;) work(i);
    };
    size_t threads = std::min<size_t>(n, std::max(1u, std::thread::hardware_concurrency()));
    std::vector<std::thread> pool;
    for (size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
    worker();
    for (auto& t : pool) t.join();
}

// `collapsed` (may be null): layers for which it is true count as 0 dB.
SqnrStats summarize(const std::vector<LayerSqnr>& layers, double LayerSqnr::*field,
                    bool LayerSqnr::*collapsed = nullptr) {
    SqnrStats s;
    if (layers.empty()) return s;
    std::vector<double> v;
    double weighted = 0, total = 0;
    for (const auto& l : layers) {
        double x = collapsed && l.*collapsed ? 0.0 : l.*field;
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
    std::vector<const Layer*> found;
    for (const auto& name : layers) {
        const Layer* b = model.find(name);
        if (!b || b->weight.values.empty()) continue;
        if (std::find(found.begin(), found.end(), b) != found.end()) continue;
        found.push_back(b);
        LayerSqnr l;
        l.name = name;
        l.parameters = b->weight.size();
        r.layers.push_back(l);
    }
    parallelFor(found.size(), [&](size_t i) {
        auto q = quantizeInt8(found[i]->weight, found[i]->info.outAxis());
        auto& l = r.layers[i];
        l.perTensorBefore = q.perTensor;
        l.perChannelBefore = q.perChannel;
        l.zeroFractionBefore = q.zeroFraction;
        l.zeroedChannelsBefore = q.zeroedChannels;
        l.collapsedBefore = q.collapsed();
    });
    return r;
}

void quantizationAfter(QuantizationReport& r, const std::vector<Layer>& after) {
    parallelFor(r.layers.size(), [&](size_t i) {
        auto& l = r.layers[i];
        auto it = std::find_if(after.begin(), after.end(),
                               [&](const Layer& a) { return a.info.name == l.name; });
        if (it == after.end()) return;
        auto q = quantizeInt8(it->weight, it->info.outAxis());
        l.perTensorAfter = q.perTensor;
        l.perChannelAfter = q.perChannel;
        l.zeroFractionAfter = q.zeroFraction;
        l.zeroedChannelsAfter = q.zeroedChannels;
        l.collapsedAfter = q.collapsed();
    });
    r.collapsedLayers.clear();
    for (const auto& l : r.layers)
        if (l.collapsedByEqualization()) r.collapsedLayers.push_back(l.name);
    r.perTensorBefore =
        summarize(r.layers, &LayerSqnr::perTensorBefore, &LayerSqnr::collapsedBefore);
    r.perTensorAfter = summarize(r.layers, &LayerSqnr::perTensorAfter, &LayerSqnr::collapsedAfter);
    r.perChannelBefore = summarize(r.layers, &LayerSqnr::perChannelBefore);
    r.perChannelAfter = summarize(r.layers, &LayerSqnr::perChannelAfter);
}

}  // namespace cle::core
