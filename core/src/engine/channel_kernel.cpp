#include "engine/channel_kernel.h"

#include "engine/cpu_dispatch.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <thread>

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

// One element: returns the new value and adds its squared change (against the value after the
// first multiplication when there are two) to acc.
template <bool kTwo>
[[gnu::always_inline]] inline float step(float x, float fa, float fb, double& acc) {
    float v1 = x * fa;
    if constexpr (kTwo) {
        float v2 = v1 * fb;
        float d = v2 - v1;
        acc += double(d) * double(d);
        return v2;
    } else {
        float d = v1 - x;
        acc += double(d) * double(d);
        return v1;
    }
}

// `n` contiguous elements with the same factors (kWrite false: measures only).
template <bool kWrite, bool kTwo>
[[gnu::always_inline]] inline double scaleRun(float* x, std::int64_t n, float fa, float fb,
                                              float& lo, float& hi) {
    double acc = 0;
    float l = lo, h = hi;
#pragma omp simd reduction(+ : acc) reduction(min : l) reduction(max : h)
    for (std::int64_t i = 0; i < n; ++i) {
        float v = step<kTwo>(x[i], fa, fb, acc);
        if constexpr (kWrite) x[i] = v;
        l = std::min(l, v);
        h = std::max(h, v);
    }
    lo = l;
    hi = h;
    return acc;
}

// A row of `n` elements that run along axis 2: factors per element (kElemA/kElemB) or constant.
template <bool kWrite, bool kTwo, bool kElemA, bool kElemB>
[[gnu::always_inline]] inline double scaleRow(float* x, std::int64_t n, const float* fa,
                                              float fa0, const float* fb, float fb0, float* lo2,
                                              float* hi2, float& lo1, float& hi1) {
    double acc = 0;
    float l = lo1, h = hi1;
#pragma omp simd reduction(+ : acc) reduction(min : l) reduction(max : h)
    for (std::int64_t i = 0; i < n; ++i) {
        float v = step<kTwo>(x[i], kElemA ? fa[i] : fa0, kElemB ? fb[i] : fb0, acc);
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

template <bool kWrite, bool kTwo>
[[gnu::always_inline]] inline double dispatchRow(float* x, const AxisView& v, const Factors& f,
                                                 float fa0, float fb0, AxisStats& s, float& lo1,
                                                 float& hi1) {
    float* lo2 = s.min2.data();
    float* hi2 = s.max2.data();
    if (f.a2 && f.b2)
        return scaleRow<kWrite, kTwo, true, true>(x, v.n2, f.a2, fa0, f.b2, fb0, lo2, hi2, lo1, hi1);
    if (f.a2)
        return scaleRow<kWrite, kTwo, true, false>(x, v.n2, f.a2, fa0, f.b2, fb0, lo2, hi2, lo1, hi1);
    if (f.b2)
        return scaleRow<kWrite, kTwo, false, true>(x, v.n2, f.a2, fa0, f.b2, fb0, lo2, hi2, lo1, hi1);
    return scaleRow<kWrite, kTwo, false, false>(x, v.n2, f.a2, fa0, f.b2, fb0, lo2, hi2, lo1, hi1);
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
// result is the same bit for bit however many threads run the chunks.
template <bool kWrite>
double pass(float* data, const AxisView& v, const Factors& f, AxisStats& s, int threads) {
    const std::int64_t rowCount = v.p * v.n1 * v.m;
    const std::int64_t rowLength = std::max<std::int64_t>(1, v.n2 * v.q);
    const std::int64_t chunkElements = std::max<std::int64_t>(1 << 20, 8 * (v.n1 + v.n2));
    const std::int64_t chunkRows = std::max<std::int64_t>(1, chunkElements / rowLength);
    const std::int64_t chunks = (rowCount + chunkRows - 1) / chunkRows;
    if (chunks <= 1) return rowsOf<kWrite>(data, v, 0, rowCount, f, s);

    std::vector<double> sums(size_t(chunks), 0.0);
    std::vector<AxisStats> partial(size_t(chunks), AxisStats{v});
    std::atomic<std::int64_t> next{0};
    auto worker = [&] {
        for (std::int64_t c; (c = next.fetch_add(1)) < chunks;)
            sums[size_t(c)] = rowsOf<kWrite>(data, v, c * chunkRows,
                                             std::min(rowCount, (c + 1) * chunkRows), f,
                                             partial[size_t(c)]);
    };
    int n = int(std::min<std::int64_t>(chunks, std::max(1, threads)));
    std::vector<std::thread> pool;
    for (int t = 1; t < n; ++t) pool.emplace_back(worker);
    worker();
    for (auto& t : pool) t.join();
    double acc = 0;
    for (std::int64_t c = 0; c < chunks; ++c) {
        acc += sums[size_t(c)];
        merge(s, partial[size_t(c)]);
    }
    return acc;
}

}  // namespace

int defaultThreads() {
    unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : int(std::min(n, 8u));
}

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
    double acc = pass<false>(const_cast<float*>(data), view, f, s, threads);
    Stats stats = toStats(std::move(s), view);
    stats.finite = std::isfinite(acc);
    return stats;
}

double scale(float* data, const AxisView& view, bool scaleOut, const float* factor, Stats& stats,
             int threads) {
    AxisStats s(view);
    Factors f;
    slot(f, view, scaleOut, false) = factor;
    double acc = pass<true>(data, view, f, s, threads);
    stats = toStats(std::move(s), view);
    return acc;
}

double scaleInThenOut(float* data, const AxisView& view, const float* inFactor,
                      const float* outFactor, Stats& stats, int threads) {
    AxisStats s(view);
    Factors f;
    slot(f, view, false, false) = inFactor;
    slot(f, view, true, true) = outFactor;
    double acc = pass<true>(data, view, f, s, threads);
    stats = toStats(std::move(s), view);
    return acc;
}

}  // namespace cle::core::kernel
