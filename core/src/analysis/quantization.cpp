#include "cle/core/quantization.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>

#include "engine/cpu_dispatch.h"
#include "support/thread_pool.h"

#pragma GCC diagnostic ignored "-Wpsabi"  // 32-byte vector types in always-inline helpers

namespace cle::core {

namespace {

// Sum of squares of the values (signal) and of their INT8 quantization error per tensor (noise)
// and per channel (channelNoise); how many values are non-zero, and how many of those round to
// zero per tensor.
struct Energy {
    double signal = 0;
    double noise = 0;
    double channelNoise = 0;
    std::int64_t nonZero = 0;
    std::int64_t roundedToZero = 0;
    std::int64_t doubtful = 0;  // values whose rounding the reciprocal cannot decide
};

void add(Energy& into, const Energy& e) {
    into.signal += e.signal;
    into.noise += e.noise;
    into.channelNoise += e.channelNoise;
    into.nonZero += e.nonZero;
    into.roundedToZero += e.roundedToZero;
}

// The quantized value round(x / s) * s, clamped to +-127 steps, rounding half to even; s == 0
// keeps x. kExact divides. Otherwise x is multiplied by the reciprocal r of s, which is within
// 2 ulp of x / s: the rounding is the same unless that quotient lies within a few ulp of a
// half-integer, which is counted in `doubtful` (the caller then divides). Written with the
// compiler's vector types (8 values at a time, each lane with its own sums, added in lane order),
// so it runs vectorized and gives the same sums on every processor. Rounding: y is first clamped
// to +-128 (which changes no clamped result), then 1.5 * 2^23 added and taken away, which rounds
// half to even in the default rounding mode.
typedef float F8 __attribute__((vector_size(32)));
typedef float F4 __attribute__((vector_size(16)));
typedef double D4 __attribute__((vector_size(32)));
typedef int I8 __attribute__((vector_size(32)));

[[gnu::always_inline]] inline F8 load8(const float* p) {
    F8 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
[[gnu::always_inline]] inline F8 clamp8(F8 v, float limit) {
    v = v < -limit ? -limit : v;
    return v > limit ? limit : v;
}
[[gnu::always_inline]] inline F8 abs8(F8 v) { return v < 0 ? -v : v; }
[[gnu::always_inline]] inline D4 square(F8 v, bool high) {
    const F4 half = high ? __builtin_shufflevector(v, v, 4, 5, 6, 7)
                         : __builtin_shufflevector(v, v, 0, 1, 2, 3);
    const D4 w = __builtin_convertvector(half, D4);
    return w * w;
}

template <bool kExact>
[[gnu::always_inline]] inline F8 quantized(F8 x, F8 s, F8 r, I8& doubtful) {
    const F8 y = clamp8(kExact ? x / s : x * r, 128.f);
    const F8 n = (y + 12582912.f) - 12582912.f;
    if constexpr (!kExact) doubtful -= abs8(abs8(y - n) - 0.5f) <= abs8(y) * 0x1p-20f;
    return s == 0.f ? x : clamp8(n, 127.f) * s;
}

// `n` values with one tensor scale ts (reciprocal tr) and channel scales cs[i] (kPerElement) or
// cs[0]; built for AVX2 too.
template <bool kPerElement, bool kExact>
CLE_ALWAYS_INLINE Energy energyBody(const float* x, std::int64_t n, float ts, float tr,
                                    const float* cs, const float* cr) {
    D4 signal[2] = {}, noise[2] = {}, channelNoise[2] = {};
    I8 nonZero = {}, roundedToZero = {}, doubtful = {};
    const F8 ts8 = F8{} + ts, tr8 = F8{} + tr;
    float xs[8], scales[8], inverses[8];
    for (std::int64_t i = 0; i < n; i += 8) {
        const std::int64_t m = std::min<std::int64_t>(8, n - i);
        F8 x8 = {}, cs8, cr8;
        if (m == 8) {
            x8 = load8(x + i);
            cs8 = kPerElement ? load8(cs + i) : F8{} + cs[0];
            cr8 = kPerElement ? load8(cr + i) : F8{} + cr[0];
        } else {  // the last values; the lanes beyond them hold zeros, which add nothing
            for (int j = 0; j < 8; ++j) {
                xs[j] = j < m ? x[i + j] : 0.f;
                scales[j] = kPerElement ? (j < m ? cs[i + j] : 1.f) : cs[0];
                inverses[j] = kPerElement ? (j < m ? cr[i + j] : 1.f) : cr[0];
            }
            x8 = load8(xs), cs8 = load8(scales), cr8 = load8(inverses);
        }
        const F8 q = quantized<kExact>(x8, ts8, tr8, doubtful);
        const F8 qc = quantized<kExact>(x8, cs8, cr8, doubtful);
        for (int h = 0; h < 2; ++h) {
            signal[h] += square(x8, h);
            noise[h] += square(x8 - q, h);
            channelNoise[h] += square(x8 - qc, h);
        }
        const I8 isNonZero = x8 != 0.f;
        nonZero -= isNonZero;
        roundedToZero -= isNonZero & (q == 0.f);
    }
    Energy e;
    for (int h = 0; h < 2; ++h)
        for (int j = 0; j < 4; ++j) {
            e.signal += signal[h][j];
            e.noise += noise[h][j];
            e.channelNoise += channelNoise[h][j];
        }
    for (int j = 0; j < 8; ++j) {
        e.nonZero += nonZero[j];
        e.roundedToZero += roundedToZero[j];
        e.doubtful += doubtful[j];
    }
    return e;
}

template <bool kPerElement, bool kExact>
CLE_AVX2 Energy energyAvx2(const float* x, std::int64_t n, float ts, float tr, const float* cs,
                           const float* cr) {
    return energyBody<kPerElement, kExact>(x, n, ts, tr, cs, cr);
}

template <bool kPerElement, bool kExact>
Energy energyBaseline(const float* x, std::int64_t n, float ts, float tr, const float* cs,
                      const float* cr) {
    return energyBody<kPerElement, kExact>(x, n, ts, tr, cs, cr);
}

template <bool kPerElement, bool kExact>
Energy energyOf(const float* x, std::int64_t n, float ts, float tr, const float* cs,
                const float* cr) {
    return cpu::hasAvx2() ? energyAvx2<kPerElement, kExact>(x, n, ts, tr, cs, cr)
                          : energyBaseline<kPerElement, kExact>(x, n, ts, tr, cs, cr);
}

// The exact energy: by reciprocal where that decides every rounding, else by division.
template <bool kPerElement>
Energy energy(const float* x, std::int64_t n, float ts, float tr, const float* cs, const float* cr,
              bool reciprocalUsable) {
    if (reciprocalUsable) {
        Energy e = energyOf<kPerElement, false>(x, n, ts, tr, cs, cr);
        if (e.doubtful == 0) return e;
    }
    return energyOf<kPerElement, true>(x, n, ts, tr, cs, cr);
}

double decibels(double signal, double noise) {
    if (noise == 0) return std::numeric_limits<double>::infinity();
    return 10.0 * std::log10(signal / noise);
}

// The tensor as [rows, channels, inner] around its output axis.
struct ChannelLayout {
    std::int64_t rows = 1, channels = 1, inner = 1;
    ChannelLayout(const Tensor& t, int axis) : channels(t.shape[size_t(axis)]) {
        for (int i = axis + 1; i < t.rank(); ++i) inner *= t.shape[size_t(i)];
        rows = channels * inner == 0 ? 0 : t.size() / (channels * inner);
    }
};

// Largest magnitude per channel, in one pass.
std::vector<float> channelMaxAbs(const Tensor& t, const ChannelLayout& c) {
    std::vector<float> m(size_t(c.channels), 0.f);
    const float* x = t.values.data();
    for (std::int64_t r = 0; r < c.rows; ++r) {
        if (c.inner == 1) {  // channels last: one row holds every channel once
            float* out = m.data();
#pragma omp simd
            for (std::int64_t i = 0; i < c.channels; ++i) out[i] = std::max(out[i], std::abs(x[i]));
            x += c.channels;
            continue;
        }
        for (std::int64_t ch = 0; ch < c.channels; ++ch, x += c.inner) {
            float hi = m[size_t(ch)];
#pragma omp simd reduction(max : hi)
            for (std::int64_t i = 0; i < c.inner; ++i) hi = std::max(hi, std::abs(x[i]));
            m[size_t(ch)] = hi;
        }
    }
    return m;
}

// Runs of at most this many values are measured by reciprocal and, where one rounding is in
// doubt, again by division: the fallback costs little and stays rare.
constexpr std::int64_t kRun = 1024;

// Per-tensor and per-channel energy in one pass.
Energy tensorEnergy(const Tensor& t, const ChannelLayout& c, const std::vector<float>& maxAbs,
                    float tensorScale) {
    const size_t n = size_t(c.channels);
    std::vector<float> scale(n), inverse(n);
    bool usable = std::isfinite(1.f / tensorScale) || tensorScale == 0.f;
    for (size_t ch = 0; ch < n; ++ch) {
        scale[ch] = maxAbs[ch] / 127.f;
        inverse[ch] = 1.f / scale[ch];
        usable = usable && (std::isfinite(inverse[ch]) || scale[ch] == 0.f);
    }
    const float tr = 1.f / tensorScale;
    Energy e;
    const float* x = t.values.data();
    for (std::int64_t r = 0; r < c.rows; ++r) {
        if (c.inner == 1) {  // channels last: one row holds every channel once
            for (std::int64_t i = 0; i < c.channels; i += kRun)
                add(e, energy<true>(x + i, std::min(kRun, c.channels - i), tensorScale, tr,
                                    scale.data() + i, inverse.data() + i, usable));
            x += c.channels;
            continue;
        }
        for (size_t ch = 0; ch < n; ++ch)
            for (std::int64_t i = 0; i < c.inner; i += kRun) {
                const std::int64_t length = std::min(kRun, c.inner - i);
                add(e, energy<false>(x, length, tensorScale, tr, &scale[ch], &inverse[ch], usable));
                x += length;
            }
    }
    return e;
}

}  // namespace

TensorQuantization quantizeInt8(const Tensor& t, int outAxis) {
    TensorQuantization r;
    const ChannelLayout layout(t, outAxis);
    const std::vector<float> maxAbs = channelMaxAbs(t, layout);
    float tensorMax = 0;
    for (float m : maxAbs) tensorMax = std::max(tensorMax, m);
    const float scale = tensorMax / 127.f;
    const Energy e = tensorEnergy(t, layout, maxAbs, scale);
    r.perTensor = decibels(e.signal, e.noise);
    r.perChannel = decibels(e.signal, e.channelNoise);
    r.zeroFraction = e.nonZero ? double(e.roundedToZero) / double(e.nonZero) : 0.0;
    // A channel rounds to all zeros exactly when its largest magnitude does.
    for (float m : maxAbs)
        if (m != 0.f && std::nearbyint(m / scale) == 0.f) ++r.zeroedChannels;
    return r;
}

double sqnrPerTensor(const Tensor& t) { return quantizeInt8(t, 0).perTensor; }

double sqnrPerChannel(const Tensor& t, int axis) { return quantizeInt8(t, axis).perChannel; }

namespace {

// Runs work(i) for i in [0, n) on the shared pool; each i writes only its own result.
void parallelFor(size_t n, int threads, const std::function<void(size_t)>& work) {
    ThreadPool::shared().run(std::int64_t(n), threads > 0 ? threads : defaultThreadCount(),
                             [&](std::int64_t i, int) { work(size_t(i)); });
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

QuantizationReport quantizationBefore(const Model& model, const std::vector<std::string>& layers,
                                      int threads) {
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
    parallelFor(found.size(), threads, [&](size_t i) {
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

void quantizationAfter(QuantizationReport& r, const std::vector<Layer>& after, int threads) {
    parallelFor(r.layers.size(), threads, [&](size_t i) {
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
