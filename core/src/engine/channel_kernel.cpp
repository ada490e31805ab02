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
        : min1(size_t(v.n1), kInf),
          max1(size_t(v.n1), -kInf),
          min2(size_t(v.n2), kInf),
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
constexpr int kLanes = 8;
constexpr int kRowBlock = 4;  // rows swept together
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

// kRows rows of the same length whose elements run along axis 2, swept together so that the
// factors and the per-position min/max along axis 2 are loaded and stored once for all of them.
// Each row has its own constant factors (fa0, fb0: used unless kElemA / kElemB give factors per
// element, fa and fb), its min/max (lo1, hi1) and its sum of squared changes (sums). The results
// are those of the rows swept one after the other.
template <int kRows>
struct RowSet {
    float* x[kRows];
    float fa0[kRows], fb0[kRows];
    float* lo1[kRows];
    float* hi1[kRows];
    double sums[kRows];
};

// kPos: also min/max per element position into lo2/hi2. kWrite false: measures only.
template <bool kWrite, bool kTwo, bool kElemA, bool kElemB, bool kPos, int kRows>
[[gnu::always_inline]] inline void scaleRows(RowSet<kRows>& rows, std::int64_t n,
                                             const float* __restrict fa, const float* __restrict fb,
                                             float* __restrict lo2, float* __restrict hi2) {
    D4 acc[kRows][2] = {};
    F8 l[kRows], h[kRows], a[kRows], b[kRows];
    for (int r = 0; r < kRows; ++r) {
        l[r] = F8{} + *rows.lo1[r], h[r] = F8{} + *rows.hi1[r];
        a[r] = F8{} + rows.fa0[r], b[r] = F8{} + rows.fb0[r];
    }
    std::int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes) {
        const F8 fa8 = kElemA ? load8(fa + i) : F8{}, fb8 = kElemB ? load8(fb + i) : F8{};
        F8 pl = kPos ? load8(lo2 + i) : F8{}, ph = kPos ? load8(hi2 + i) : F8{};
        for (int r = 0; r < kRows; ++r) {
            float* __restrict x = rows.x[r];
            const F8 x8 = load8(x + i);
            const F8 v1 = x8 * (kElemA ? fa8 : a[r]);
            const F8 v = kTwo ? v1 * (kElemB ? fb8 : b[r]) : v1;
            const F8 d = kTwo ? v - v1 : v1 - x8;
            acc[r][0] += squares(d, false);
            acc[r][1] += squares(d, true);
            if constexpr (kWrite) store8(x + i, v);
            if constexpr (kPos) pl = min8(pl, v), ph = max8(ph, v);
            l[r] = min8(l[r], v);
            h[r] = max8(h[r], v);
        }
        if constexpr (kPos) store8(lo2 + i, pl), store8(hi2 + i, ph);
    }
    for (int r = 0; r < kRows; ++r) {
        double sum[kLanes];
        float lo[kLanes], hi[kLanes];
        std::memcpy(sum, acc[r], sizeof sum);
        std::memcpy(lo, &l[r], sizeof lo);
        std::memcpy(hi, &h[r], sizeof hi);
        float* x = rows.x[r];
        for (std::int64_t k = i, j = 0; k < n; ++k, ++j) {
            float d;
            const float v =
                step<kTwo>(x[k], kElemA ? fa[k] : rows.fa0[r], kElemB ? fb[k] : rows.fb0[r], d);
            sum[j] += double(d) * double(d);
            if constexpr (kWrite) x[k] = v;
            if constexpr (kPos) {
                lo2[k] = std::min(lo2[k], v);
                hi2[k] = std::max(hi2[k], v);
            }
            lo[j] = std::min(lo[j], v);
            hi[j] = std::max(hi[j], v);
        }
        rows.sums[r] = 0;
        for (int j = 0; j < kLanes; ++j) {
            rows.sums[r] += sum[j];
            *rows.lo1[r] = std::min(*rows.lo1[r], lo[j]);
            *rows.hi1[r] = std::max(*rows.hi1[r], hi[j]);
        }
    }
}

// `n` contiguous elements with the same factors.
template <bool kWrite, bool kTwo>
[[gnu::always_inline]] inline double scaleRun(float* x, std::int64_t n, float fa, float fb,
                                              float& lo, float& hi) {
    RowSet<1> row{{x}, {fa}, {fb}, {&lo}, {&hi}, {0}};
    scaleRows<kWrite, kTwo, false, false, false, 1>(row, n, nullptr, nullptr, nullptr, nullptr);
    return row.sums[0];
}

template <bool kWrite, bool kTwo, int kRows>
[[gnu::always_inline]] inline void dispatchRows(RowSet<kRows>& rows, const AxisView& v,
                                                const Factors& f, AxisStats& s) {
    float* lo2 = s.min2.data();
    float* hi2 = s.max2.data();
    if (f.a2 && f.b2)
        return scaleRows<kWrite, kTwo, true, true, true>(rows, v.n2, f.a2, f.b2, lo2, hi2);
    if (f.a2) return scaleRows<kWrite, kTwo, true, false, true>(rows, v.n2, f.a2, f.b2, lo2, hi2);
    if (f.b2) return scaleRows<kWrite, kTwo, false, true, true>(rows, v.n2, f.a2, f.b2, lo2, hi2);
    return scaleRows<kWrite, kTwo, false, false, true>(rows, v.n2, f.a2, f.b2, lo2, hi2);
}

// Rows [begin, end) whose elements all run along axis 2 (Q = 1), kRows at a time.
template <bool kWrite, bool kTwo, int kRows>
[[gnu::always_inline]] inline double rowsAlongAxis2(float* data, const AxisView& v,
                                                    std::int64_t begin, std::int64_t end,
                                                    const Factors& f, AxisStats& s) {
    double acc = 0;
    std::int64_t r = begin;
    auto fill = [&](auto& rows, int k) {
        const std::int64_t c1 = ((r + k) / v.m) % v.n1;
        rows.x[k] = data + (r + k) * v.n2;
        rows.fa0[k] = f.a1 ? f.a1[c1] : 1.f;
        rows.fb0[k] = f.b1 ? f.b1[c1] : 1.f;
        rows.lo1[k] = &s.min1[size_t(c1)];
        rows.hi1[k] = &s.max1[size_t(c1)];
    };
    for (; r + kRows <= end; r += kRows) {
        RowSet<kRows> rows;
        for (int k = 0; k < kRows; ++k) fill(rows, k);
        dispatchRows<kWrite, kTwo>(rows, v, f, s);
        for (int k = 0; k < kRows; ++k) acc += rows.sums[k];
    }
    for (; r < end; ++r) {
        RowSet<1> row;
        fill(row, 0);
        dispatchRows<kWrite, kTwo>(row, v, f, s);
        acc += row.sums[0];
    }
    return acc;
}

// Rows [begin, end) of the [P, N1, M] row space; each row holds N2 * Q elements. Built for AVX2
// and for the baseline (`rows` picks the best the processor has).
template <bool kWrite, bool kTwo>
CLE_ALWAYS_INLINE double rowsBody(float* data, const AxisView& v, std::int64_t begin,
                                  std::int64_t end, const Factors& f, AxisStats& s) {
    if (v.q == 1) return rowsAlongAxis2<kWrite, kTwo, kRowBlock>(data, v, begin, end, f, s);
    double acc = 0;
    const std::int64_t rowLength = v.n2 * v.q;
    for (std::int64_t r = begin; r < end; ++r) {
        float* x = data + r * rowLength;
        const std::int64_t c1 = (r / v.m) % v.n1;
        const float fa1 = f.a1 ? f.a1[c1] : 1.f;
        const float fb1 = f.b1 ? f.b1[c1] : 1.f;
        float& lo1 = s.min1[size_t(c1)];
        float& hi1 = s.max1[size_t(c1)];
        for (std::int64_t c2 = 0; c2 < v.n2; ++c2, x += v.q) {
            float lo = kInf, hi = -kInf;
            acc += scaleRun<kWrite, kTwo>(x, v.q, f.a2 ? f.a2[c2] : fa1, f.b2 ? f.b2[c2] : fb1, lo,
                                          hi);
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
double rows(float* data, const AxisView& v, std::int64_t begin, std::int64_t end, const Factors& f,
            AxisStats& s) {
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
        for (std::int64_t c = 0; c < v.n2; ++c) std::fill_n(out.begin() + c * v.q, v.q, factor[c]);
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
