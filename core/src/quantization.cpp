#include "cle/core/quantization.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <thread>
#include <cmath>
#include <limits>

namespace cle::core {

namespace {

// Sum of squares of the values and of their INT8 quantization error.
struct Energy {
    double signal = 0;
    double noise = 0;
};

// Quantizes x[i] with scale[i] (kPerElement) or with scale[0]; nearbyint rounds half to even in
// the default rounding mode. Built for AVX2 too: this runs over every weight twice per run.
template <bool kPerElement>
__attribute__((target_clones("avx2", "default"))) Energy energy(const float* x, std::int64_t n,
                                                                const float* scale) {
    double signal = 0, noise = 0;
#pragma omp simd reduction(+ : signal, noise)
    for (std::int64_t i = 0; i < n; ++i) {
        float s = kPerElement ? scale[i] : scale[0];
        float q = s == 0.f ? x[i] : std::clamp(std::nearbyint(x[i] / s), -127.f, 127.f) * s;
        signal += double(x[i]) * x[i];
        noise += double(x[i] - q) * (x[i] - q);
    }
    return {signal, noise};
}

void add(Energy& into, const Energy& e) {
    into.signal += e.signal;
    into.noise += e.noise;
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

double sqnrPerChannel(const Tensor& t, int axis) {
    auto stats = channelStats(t, axis);
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
        r.layers[i].perTensorBefore = sqnrPerTensor(found[i]->weight);
        r.layers[i].perChannelBefore = sqnrPerChannel(found[i]->weight, found[i]->info.outAxis());
    });
    return r;
}

void quantizationAfter(QuantizationReport& r, const std::vector<Layer>& after) {
    parallelFor(r.layers.size(), [&](size_t i) {
        auto& l = r.layers[i];
        auto it = std::find_if(after.begin(), after.end(),
                               [&](const Layer& a) { return a.info.name == l.name; });
        if (it == after.end()) return;
        l.perTensorAfter = sqnrPerTensor(it->weight);
        l.perChannelAfter = sqnrPerChannel(it->weight, it->info.outAxis());
    });
    r.perTensorBefore = summarize(r.layers, &LayerSqnr::perTensorBefore);
    r.perTensorAfter = summarize(r.layers, &LayerSqnr::perTensorAfter);
    r.perChannelBefore = summarize(r.layers, &LayerSqnr::perChannelBefore);
    r.perChannelAfter = summarize(r.layers, &LayerSqnr::perChannelAfter);
}

}  // namespace cle::core
