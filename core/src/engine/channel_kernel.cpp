#include "engine/channel_kernel.h"

#include "engine/cpu_dispatch.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>

#include "support/thread_pool.h"

#pragma GCC diagnostic ignored "-Wpsabi"  // 32-byte vector types in always-inline helpers

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

// Per-axis factors of one pass: every element is multiplied by its first factor (a1 along axis 1
// or a2 along axis 2) and, when a second one is given (b1 or b2), the rounded product again by
// that: exactly what two passes would compute. Null means "no factor along that axis".
struct Factors {
    const float* a1 = nullptr;
    const float* a2 = nullptr;
    const float* b1 = nullptr;
    const float* b2 = nullptr;
    bool two() const { return b1 || b2; }
};

// One element: returns the new value and its change (against the value after the first
// multiplication when there are two).
template <bool kTwo>
[[gnu::always_inline]] inline float step(float x, float fa, float fb, float& change) {
    const float v1 = x * fa;
    if constexpr (kTwo) {
        const float v2 = v1 * fb;
        change = v2 - v1;
        return v2;
    } else {
        change = v1 - x;
        return v1;
    }
}

// Elements are taken kLanes at a time, element i into lane i % kLanes, each lane with its own
// sum and min/max: written with the compiler's vector types, so every accumulator stays in a
// register and the double sums do not wait on each other. The lanes are added in lane order: the
// sum is the same bit for bit on every processor (d * d is exact in double, so contracting it
// into a fused multiply-add would change nothing either).
constexpr int kLanes = 16;
typedef float F8 __attribute__((vector_size(32)));
typedef float F4 __attribute__((vector_size(16)));
typedef double D4 __attribute__((vector_size(32)));

[[gnu::always_inline]] inline F8 load8(const float* p) {
    F8 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
[[gnu::always_inline]] inline void store8(float* p, F8 v) { std::memcpy(p, &v, sizeof v); }
// std::min and std::max, lane by lane (the same operand wins a tie or an unordered compare).
[[gnu::always_inline]] inline F8 min8(F8 a, F8 b) { return b < a ? b : a; }
[[gnu::always_inline]] inline F8 max8(F8 a, F8 b) { return a < b ? b : a; }
[[gnu::always_inline]] inline D4 squares(F8 d, bool high) {
    const F4 half = high ? __builtin_shufflevector(d, d, 4, 5, 6, 7)
                         : __builtin_shufflevector(d, d, 0, 1, 2, 3);
    const D4 w = __builtin_convertvector(half, D4);
    return w * w;
}

// The lanes' accumulators.
struct Lanes {
    D4 acc[4] = {};
    F8 lo[2], hi[2];
};

// `n` contiguous elements that run along axis 2: factors per element (kElemA/kElemB) or constant;
// kPos: also min/max per element position into lo2/hi2. kWrite false: measures only.
template <bool kWrite, bool kTwo, bool kElemA, bool kElemB, bool kPos>
[[gnu::always_inline]] inline double scaleRow(float* __restrict x, std::int64_t n,
                                              const float* __restrict fa, float fa0,
                                              const float* __restrict fb, float fb0,
                                              float* __restrict lo2, float* __restrict hi2,
                                              float& lo1, float& hi1) {
    Lanes k;
    k.lo[0] = k.lo[1] = F8{} + lo1;
    k.hi[0] = k.hi[1] = F8{} + hi1;
    const F8 fa8 = F8{} + fa0, fb8 = F8{} + fb0;
    std::int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes) {
        for (int h = 0; h < 2; ++h) {
            const std::int64_t at = i + 8 * h;
            const F8 x8 = load8(x + at);
            const F8 v1 = x8 * (kElemA ? load8(fa + at) : fa8);
            const F8 v = kTwo ? v1 * (kElemB ? load8(fb + at) : fb8) : v1;
            const F8 d = kTwo ? v - v1 : v1 - x8;
            k.acc[2 * h] += squares(d, false);
            k.acc[2 * h + 1] += squares(d, true);
            if constexpr (kWrite) store8(x + at, v);
            if constexpr (kPos) {
                store8(lo2 + at, min8(load8(lo2 + at), v));
                store8(hi2 + at, max8(load8(hi2 + at), v));
            }
            k.lo[h] = min8(k.lo[h], v);
            k.hi[h] = max8(k.hi[h], v);
        }
    }
    double acc[kLanes];
    float lo[kLanes], hi[kLanes];
    std::memcpy(acc, k.acc, sizeof acc);
    std::memcpy(lo, k.lo, sizeof lo);
    std::memcpy(hi, k.hi, sizeof hi);
    for (int j = 0; i < n; ++i, ++j) {
        float d;
        const float v = step<kTwo>(x[i], kElemA ? fa[i] : fa0, kElemB ? fb[i] : fb0, d);
        acc[j] += double(d) * double(d);
        if constexpr (kWrite) x[i] = v;
        if constexpr (kPos) {
            lo2[i] = std::min(lo2[i], v);
            hi2[i] = std::max(hi2[i], v);
        }
        lo[j] = std::min(lo[j], v);
        hi[j] = std::max(hi[j], v);
    }
    double sum = 0;
    for (int j = 0; j < kLanes; ++j) {
        sum += acc[j];
        lo1 = std::min(lo1, lo[j]);
        hi1 = std::max(hi1, hi[j]);
    }
    return sum;
}

// `n` contiguous elements with the same factors.
template <bool kWrite, bool kTwo>
[[gnu::always_inline]] inline double scaleRun(float* x, std::int64_t n, float fa, float fb,
                                              float& lo, float& hi) {
    return scaleRow<kWrite, kTwo, false, false, false>(x, n, nullptr, fa, nullptr, fb, nullptr,
                                                       nullptr, lo, hi);
}

template <bool kWrite, bool kTwo>
[[gnu::always_inline]] inline double dispatchRow(float* x, const AxisView& v, const Factors& f,
                                                 float fa0, float fb0, AxisStats& s, float& lo1,
                                                 float& hi1) {
    float* lo2 = s.min2.data();
    float* hi2 = s.max2.data();
    if (f.a2 && f.b2)
        return scaleRow<kWrite, kTwo, true, true, true>(x, v.n2, f.a2, fa0, f.b2, fb0, lo2, hi2, lo1, hi1);
    if (f.a2)
        return scaleRow<kWrite, kTwo, true, false, true>(x, v.n2, f.a2, fa0, f.b2, fb0, lo2, hi2, lo1, hi1);
    if (f.b2)
        return scaleRow<kWrite, kTwo, false, true, true>(x, v.n2, f.a2, fa0, f.b2, fb0, lo2, hi2, lo1, hi1);
    return scaleRow<kWrite, kTwo, false, false, true>(x, v.n2, f.a2, fa0, f.b2, fb0, lo2, hi2, lo1, hi1);
}

// Rows [begin, end) of the [P, N1, M] row space; each row holds N2 * Q elements. Built for AVX2
// and for the baseline (`rows` picks the best the processor has).
template <bool kWrite, bool kTwo>
CLE_ALWAYS_INLINE double rowsBody(float* data, const AxisView& v, std::int64_t begin,
                                  std::int64_t end, const Factors& f, AxisStats& s) {
    double acc = 0;
    const std::int64_t rowLength = v.n2 * v.q;
    for (std::int64_t r = begin; r < end; ++r) {
        float* x = data + r * rowLength;
        const std::int64_t c1 = (r / v.m) % v.n1;
        const float fa1 = f.a1 ? f.a1[c1] : 1.f;
        const float fb1 = f.b1 ? f.b1[c1] : 1.f;
        float& lo1 = s.min1[size_t(c1)];
        float& hi1 = s.max1[size_t(c1)];
        if (v.q == 1) {
            acc += dispatchRow<kWrite, kTwo>(x, v, f, fa1, fb1, s, lo1, hi1);
            continue;
        }
        for (std::int64_t c2 = 0; c2 < v.n2; ++c2, x += v.q) {
            float lo = kInf, hi = -kInf;
            acc += scaleRun<kWrite, kTwo>(x, v.q, f.a2 ? f.a2[c2] : fa1, f.b2 ? f.b2[c2] : fb1,
                                          lo, hi);
            lo1 = std::min(lo1, lo);
            hi1 = std::max(hi1, hi);
            s.min2[size_t(c2)] = std::min(s.min2[size_t(c2)], lo);
            s.max2[size_t(c2)] = std::max(s.max2[size_t(c2)], hi);
        }
    }
    return acc;
}

template <bool kWrite, bool kTwo>
CLE_AVX2 double rowsAvx2(float* data, const AxisView& v, std::int64_t begin, std::int64_t end,
                         const Factors& f, AxisStats& s) {
    return rowsBody<kWrite, kTwo>(data, v, begin, end, f, s);
}

template <bool kWrite, bool kTwo>
double rowsBaseline(float* data, const AxisView& v, std::int64_t begin, std::int64_t end,
                    const Factors& f, AxisStats& s) {
    return rowsBody<kWrite, kTwo>(data, v, begin, end, f, s);
}

template <bool kWrite, bool kTwo>
double rows(float* data, const AxisView& v, std::int64_t begin, std::int64_t end,
            const Factors& f, AxisStats& s) {
    return cpu::hasAvx2() ? rowsAvx2<kWrite, kTwo>(data, v, begin, end, f, s)
                          : rowsBaseline<kWrite, kTwo>(data, v, begin, end, f, s);
}

template <bool kWrite>
double rowsOf(float* data, const AxisView& v, std::int64_t begin, std::int64_t end,
              const Factors& f, AxisStats& s) {
    return f.two() ? rows<kWrite, true>(data, v, begin, end, f, s)
                   : rows<kWrite, false>(data, v, begin, end, f, s);
}

void merge(AxisStats& into, const AxisStats& from) {
    for (size_t c = 0; c < into.min1.size(); ++c) {
        into.min1[c] = std::min(into.min1[c], from.min1[c]);
        into.max1[c] = std::max(into.max1[c], from.max1[c]);
    }
    for (size_t c = 0; c < into.min2.size(); ++c) {
        into.min2[c] = std::min(into.min2[c], from.min2[c]);
        into.max2[c] = std::max(into.max2[c], from.max2[c]);
    }
}

// The whole tensor, cut into chunks whose size depends only on the shape, never on the number of
// threads: each chunk sums its own change, and the chunk sums are added in chunk order, so the
// result is the same bit for bit however many threads run the chunks. Min and max are exact in any
// order, so each worker keeps one set of them for all the chunks it runs.
template <bool kWrite>
double pass(float* data, const AxisView& v, const Factors& f, AxisStats& s, int threads) {
    const std::int64_t rowCount = v.p * v.n1 * v.m;
    const std::int64_t rowLength = std::max<std::int64_t>(1, v.n2 * v.q);
    const std::int64_t chunkElements = std::max<std::int64_t>(1 << 18, 8 * (v.n1 + v.n2));
    const std::int64_t chunkRows = std::max<std::int64_t>(1, chunkElements / rowLength);
    const std::int64_t chunks = (rowCount + chunkRows - 1) / chunkRows;
    if (chunks <= 1 || threads <= 1) {  // the same chunk sums, added in the same order
        double acc = 0;
        for (std::int64_t c = 0; c < chunks; ++c)
            acc += rowsOf<kWrite>(data, v, c * chunkRows, std::min(rowCount, (c + 1) * chunkRows),
                                  f, s);
        return acc;
    }
    std::vector<double> sums(size_t(chunks), 0.0);
    const int workers = int(std::min<std::int64_t>(chunks, threads));
    std::vector<std::optional<AxisStats>> partial{size_t(workers)};
    ThreadPool::shared().run(chunks, workers, [&](std::int64_t c, int w) {
        auto& mine = partial[size_t(w)];
        if (!mine) mine.emplace(v);
        sums[size_t(c)] = rowsOf<kWrite>(data, v, c * chunkRows,
                                         std::min(rowCount, (c + 1) * chunkRows), f, *mine);
    });
    double acc = 0;
    for (double sum : sums) acc += sum;
    for (const auto& p : partial)
        if (p) merge(s, *p);
    return acc;
}

// A PyTorch-layout kernel [out, in, k...] has a short run of k elements per input channel; one
// loop over the whole row [in * k] with the input factors expanded to every element, and min/max
// kept per element position (merged into channels afterwards, exactly), runs at memory speed.
template <bool kWrite>
double flatPass(float* data, const AxisView& v, Factors f, AxisStats& s, int threads) {
    if (v.single || v.q == 1) return pass<kWrite>(data, v, f, s, threads);
    AxisView flat = v;
    flat.n2 = v.n2 * v.q;
    flat.q = 1;
    std::vector<float> a2, b2;
    auto expand = [&](const float*& factor, std::vector<float>& out) {
        if (!factor) return;
        out.resize(size_t(flat.n2));
        for (std::int64_t c = 0; c < v.n2; ++c)
            std::fill_n(out.begin() + c * v.q, v.q, factor[c]);
        factor = out.data();
    };
    expand(f.a2, a2);
    expand(f.b2, b2);
    AxisStats positions(flat);
    const double acc = pass<kWrite>(data, flat, f, positions, threads);
    s.min1 = std::move(positions.min1);
    s.max1 = std::move(positions.max1);
    for (std::int64_t c = 0; c < v.n2; ++c) {
        const auto lo = positions.min2.begin() + c * v.q, hi = positions.max2.begin() + c * v.q;
        s.min2[size_t(c)] = *std::min_element(lo, lo + v.q);
        s.max2[size_t(c)] = *std::max_element(hi, hi + v.q);
    }
    return acc;
}

}  // namespace

int defaultThreads() { return defaultThreadCount(); }

namespace {

// The factor array along axis 1 or 2 of the view for the input or the output channels.
const float*& slot(Factors& f, const AxisView& v, bool output, bool second) {
    bool axis1 = v.single || (output == v.outFirst);
    if (second) return axis1 ? f.b1 : f.b2;
    return axis1 ? f.a1 : f.a2;
}

}  // namespace

Stats measure(const float* data, const AxisView& view, int threads) {
    return measureScaled(data, view, nullptr, threads);
}

Stats measureScaled(const float* data, const AxisView& view, const float* inFactor, int threads) {
    AxisStats s(view);
    Factors f;
    slot(f, view, false, false) = inFactor;
    // The read-only instantiation never stores through the pointer. Its "change" x * 1 - x is 0
    // for every finite x and NaN otherwise, so the sum doubles as a finiteness check.
    double acc = flatPass<false>(const_cast<float*>(data), view, f, s, threads);
    Stats stats = toStats(std::move(s), view);
    stats.finite = std::isfinite(acc);
    return stats;
}

double scale(float* data, const AxisView& view, bool scaleOut, const float* factor, Stats& stats,
             int threads) {
    AxisStats s(view);
    Factors f;
    slot(f, view, scaleOut, false) = factor;
    double acc = flatPass<true>(data, view, f, s, threads);
    stats = toStats(std::move(s), view);
    return acc;
}

double scaleInThenOut(float* data, const AxisView& view, const float* inFactor,
                      const float* outFactor, Stats& stats, int threads) {
    AxisStats s(view);
    Factors f;
    slot(f, view, false, false) = inFactor;
    slot(f, view, true, true) = outFactor;
    double acc = flatPass<true>(data, view, f, s, threads);
    stats = toStats(std::move(s), view);
    return acc;
}

}  // namespace cle::core::kernel
