#include "channel_kernel.h"

#include <algorithm>
#include <limits>

namespace cle::core::kernel {

AxisView makeView(const std::vector<std::int64_t>& shape, int outAxis, int inAxis) {
    AxisView v;
    int a1 = std::min(outAxis, inAxis), a2 = std::max(outAxis, inAxis);
    v.single = a1 == a2;
    v.outFirst = outAxis <= inAxis;
    auto prod = [&](int from, int to) {
        std::int64_t n = 1;
        for (int i = from; i < to; ++i) n *= shape[static_cast<size_t>(i)];
        return n;
    };
    int rank = static_cast<int>(shape.size());
    v.p = prod(0, a1);
    v.n1 = shape[static_cast<size_t>(a1)];
    if (v.single) {
        v.q = prod(a1 + 1, rank);
    } else {
        v.m = prod(a1 + 1, a2);
        v.n2 = shape[static_cast<size_t>(a2)];
        v.q = prod(a2 + 1, rank);
    }
    return v;
}

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// Min/max arrays of the first (a1) and second (a2) channel axis.
struct AxisStats {
    std::vector<float> min1, max1, min2, max2;
    explicit AxisStats(const AxisView& v)
        : min1(size_t(v.n1), kInf), max1(size_t(v.n1), -kInf), min2(size_t(v.n2), kInf),
          max2(size_t(v.n2), -kInf) {}
};

Stats toStats(AxisStats&& a, const AxisView& v) {
    Stats s;
    if (v.single) {
        s.outMin = a.min1;
        s.outMax = a.max1;
        s.inMin = std::move(a.min1);
        s.inMax = std::move(a.max1);
    } else if (v.outFirst) {
        s.outMin = std::move(a.min1), s.outMax = std::move(a.max1);
        s.inMin = std::move(a.min2), s.inMax = std::move(a.max2);
    } else {
        s.outMin = std::move(a.min2), s.outMax = std::move(a.max2);
        s.inMin = std::move(a.min1), s.inMax = std::move(a.max1);
    }
    return s;
}

// Scales `n` contiguous elements by one factor (kWrite false: measures only). Returns the squared
// change.
template <bool kWrite>
inline double scaleRun(float* x, std::int64_t n, float f, float& lo, float& hi) {
    double acc = 0;
    float l = lo, h = hi;
#pragma omp simd reduction(+ : acc) reduction(min : l) reduction(max : h)
    for (std::int64_t i = 0; i < n; ++i) {
        float v = x[i] * f;
        float d = v - x[i];
        acc += double(d) * double(d);
        if constexpr (kWrite) x[i] = v;
        l = std::min(l, v);
        h = std::max(h, v);
    }
    lo = l;
    hi = h;
    return acc;
}

// Scales a row of `n` elements that run along the second channel axis; element i is multiplied
// by f[i] (kPerElement) or by f0.
template <bool kWrite, bool kPerElement>
inline double scaleRow(float* x, std::int64_t n, const float* f, float f0, float* lo2, float* hi2,
                       float& lo1, float& hi1) {
    double acc = 0;
    float l = lo1, h = hi1;
#pragma omp simd reduction(+ : acc) reduction(min : l) reduction(max : h)
    for (std::int64_t i = 0; i < n; ++i) {
        float v = x[i] * (kPerElement ? f[i] : f0);
        float d = v - x[i];
        acc += double(d) * double(d);
        if constexpr (kWrite) x[i] = v;
        lo2[i] = std::min(lo2[i], v);
        hi2[i] = std::max(hi2[i], v);
        l = std::min(l, v);
        h = std::max(h, v);
    }
    lo1 = l;
    hi1 = h;
    return acc;
}

// factor1 scales the a1 axis, factor2 the a2 axis; at most one is non-null.
// Built for AVX2 and for the baseline; the loader picks the best the processor has.
template <bool kWrite>
__attribute__((target_clones("avx2", "default"))) double pass(float* data, const AxisView& v, const float* factor1, const float* factor2,
            AxisStats& s) {
    double acc = 0;
    float* x = data;
    for (std::int64_t p = 0; p < v.p; ++p) {
        for (std::int64_t c1 = 0; c1 < v.n1; ++c1) {
            float f1 = factor1 ? factor1[c1] : 1.f;
            float& lo1 = s.min1[size_t(c1)];
            float& hi1 = s.max1[size_t(c1)];
            for (std::int64_t m = 0; m < v.m; ++m) {
                if (v.q == 1) {
                    acc += factor2 ? scaleRow<kWrite, true>(x, v.n2, factor2, f1, s.min2.data(),
                                                            s.max2.data(), lo1, hi1)
                                   : scaleRow<kWrite, false>(x, v.n2, factor2, f1, s.min2.data(),
                                                             s.max2.data(), lo1, hi1);
                    x += v.n2;
                    continue;
                }
                for (std::int64_t c2 = 0; c2 < v.n2; ++c2, x += v.q) {
                    float lo = kInf, hi = -kInf;
                    acc += scaleRun<kWrite>(x, v.q, factor2 ? factor2[c2] : f1, lo, hi);
                    lo1 = std::min(lo1, lo);
                    hi1 = std::max(hi1, hi);
                    s.min2[size_t(c2)] = std::min(s.min2[size_t(c2)], lo);
                    s.max2[size_t(c2)] = std::max(s.max2[size_t(c2)], hi);
                }
            }
        }
    }
    return acc;
}

}  // namespace

Stats measure(const float* data, const AxisView& view) {
    AxisStats s(view);
    // The read-only instantiation never stores through the pointer.
    pass<false>(const_cast<float*>(data), view, nullptr, nullptr, s);
    return toStats(std::move(s), view);
}

double scale(float* data, const AxisView& view, bool scaleOut, const float* factor, Stats& stats) {
    AxisStats s(view);
    bool onFirst = view.single || (scaleOut == view.outFirst);
    double acc = pass<true>(data, view, onFirst ? factor : nullptr, onFirst ? nullptr : factor, s);
    stats = toStats(std::move(s), view);
    return acc;
}

}  // namespace cle::core::kernel
