#include "engine/channel_kernel.h"

#include "engine/cpu_dispatch.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

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

// What one pass computes: whether it stores the new values, multiplies twice, sums the squared
// change, and keeps min/max per row (axis 1) and per element position (axis 2).
struct Mode {
    bool write = false, two = false, sum = false, row = false, pos = false;
};

constexpr int kLanes = 8;
typedef float F8 __attribute__((vector_size(32)));
typedef double D4 __attribute__((vector_size(32)));

// kRows rows of the same length whose elements run along axis 2 (see channel_rows.inc).
template <int kRows>
struct RowSet {
    float* x[kRows];
    float fa0[kRows], fb0[kRows];
    float* lo1[kRows];
    float* hi1[kRows];
    double sums[kRows];
};

namespace baseline {
#include "engine/channel_rows.inc"
}  // namespace baseline

#if defined(__x86_64__) || defined(__i386__)
#if defined(__clang__)  // clang ignores GCC's target pragma
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif
#define CLE_ROWS_AVX2
namespace avx2 {
#include "engine/channel_rows.inc"
}  // namespace avx2
#undef CLE_ROWS_AVX2
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif

// Rows [begin, end) with the best build the processor runs.
template <Mode M>
double rows(float* data, const AxisView& v, std::int64_t begin, std::int64_t end, const Factors& f,
            AxisStats& s, double* rowSums) {
#if defined(__x86_64__) || defined(__i386__)
    if (cpu::hasAvx2Fma()) return avx2::rowsOf<M>(data, v, begin, end, f, s, rowSums);
#endif
    return baseline::rowsOf<M>(data, v, begin, end, f, s, rowSums);
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
// threads: each chunk sums its rows' changes in row order, and the chunk sums are added in chunk
// order, so the result is the same bit for bit however many threads run. Threads take tasks of
// rows of their own size and keep every row's sum, added up by chunks afterwards. Min and max are
// exact in any order, so each worker keeps one set of them for all the rows it runs.
constexpr std::int64_t kParallelElements = 1 << 19;  // smaller tensors take one thread
constexpr std::int64_t kTaskElements = 1 << 16;

template <Mode M>
double pass(float* data, const AxisView& v, const Factors& f, AxisStats& s, int threads,
            std::int64_t chunkElements) {
    const std::int64_t rowCount = v.p * v.n1 * v.m;
    const std::int64_t rowLength = std::max<std::int64_t>(1, v.n2);
    const std::int64_t chunkRows = std::max<std::int64_t>(1, chunkElements / rowLength);
    if (threads <= 1 || rowCount < 2 || rowCount * rowLength < kParallelElements) {
        double acc = 0;
        for (std::int64_t r = 0; r < rowCount; r += chunkRows)
            acc += rows<M>(data, v, r, std::min(rowCount, r + chunkRows), f, s, nullptr);
        return acc;
    }
    std::vector<double> rowSums(size_t(rowCount), 0.0);
    const std::int64_t taskRows = std::max<std::int64_t>(1, kTaskElements / rowLength);
    const std::int64_t tasks = (rowCount + taskRows - 1) / taskRows;
    const int workers = int(std::min<std::int64_t>(tasks, threads));
    std::vector<std::optional<AxisStats>> partial{size_t(workers)};
    ThreadPool::shared().run(tasks, workers, [&](std::int64_t t, int w) {
        auto& mine = partial[size_t(w)];
        if (!mine) mine.emplace(v);
        rows<M>(data, v, t * taskRows, std::min(rowCount, (t + 1) * taskRows), f, *mine,
                rowSums.data());
    });
    for (const auto& p : partial)
        if (p) merge(s, *p);
    double acc = 0;
    for (std::int64_t r = 0; r < rowCount; r += chunkRows) {
        double chunk = 0;
        for (std::int64_t k = r; k < std::min(rowCount, r + chunkRows); ++k)
            chunk += rowSums[size_t(k)];
        acc += chunk;
    }
    return acc;
}

// The pass that keeps min/max per row (want1) and per position (want2) as asked.
template <bool kWrite, bool kTwo, bool kSum>
double passFor(bool want1, bool want2, float* data, const AxisView& v, const Factors& f,
               AxisStats& s, int threads, std::int64_t chunkElements) {
    if (want1 && want2)
        return pass<Mode{kWrite, kTwo, kSum, true, true}>(data, v, f, s, threads, chunkElements);
    if (want1)
        return pass<Mode{kWrite, kTwo, kSum, true, false}>(data, v, f, s, threads, chunkElements);
    if (want2)
        return pass<Mode{kWrite, kTwo, kSum, false, true}>(data, v, f, s, threads, chunkElements);
    return pass<Mode{kWrite, kTwo, kSum, false, false}>(data, v, f, s, threads, chunkElements);
}

// A depthwise kernel in Keras layout [kh, kw, C, 1] is rows of one element each: swept element
// by element in memory order, each chunk's sum of squared changes added up one element after the
// other (what rows of one element give), with the per-channel min/max as asked.
template <bool kWrite, bool kTwo, bool kSum>
double elementPass(float* data, const AxisView& v, const Factors& f, AxisStats& s, bool want,
                   std::int64_t chunk) {
    const std::int64_t n = v.p * v.n1;
    double total = 0, sum = 0;
    float* lo = s.min1.data();
    float* hi = s.max1.data();
    for (std::int64_t i = 0, c = 0; i < n; ++i, c = c + 1 == v.n1 ? 0 : c + 1) {
        if (i % chunk == 0) total += sum, sum = 0;
        const float x = data[i];
        const float v1 = x * (f.a1 ? f.a1[c] : 1.f);
        const float y = kTwo ? v1 * (f.b1 ? f.b1[c] : 1.f) : v1;
        const float d = kTwo ? y - v1 : v1 - x;
        if constexpr (kSum) sum += double(d) * double(d);
        if constexpr (kWrite) data[i] = y;
        if (want) lo[c] = std::min(lo[c], y), hi[c] = std::max(hi[c], y);
    }
    return total + sum;
}

// Every tensor is swept as rows whose elements run along axis 2. A PyTorch-layout kernel
// [out, in, k...] has a short run of k elements per input channel: its whole row [in * k] is one
// loop with the input factors expanded to every element, and min/max kept per element position
// (merged into channels afterwards, exactly). A depthwise kernel's row is its k elements. The
// chunks are those of the layout as it was swept before (the flat row for an ordinary kernel, a
// row per channel for a depthwise one), so the sums are added as they always were. want1 / want2:
// the min/max along axis 1 / 2 are needed (the others are left at +-inf).
template <bool kWrite, bool kTwo, bool kSum>
double flatPass(float* data, const AxisView& v, Factors f, AxisStats& s, int threads, bool want1,
                bool want2) {
    AxisView flat = v;
    flat.n2 = v.n2 * v.q;
    flat.q = 1;
    if (v.single || v.q == 1) {
        const std::int64_t chunk = std::max<std::int64_t>(1 << 18, 8 * (v.n1 + v.n2));
        if (v.single && v.q == 1)
            return elementPass<kWrite, kTwo, kSum>(data, v, f, s, want1, chunk);
        AxisStats st(flat);
        const double acc = passFor<kWrite, kTwo, kSum>(want1, want2 && !v.single, data, flat, f, st,
                                                       threads, chunk);
        s.min1 = std::move(st.min1), s.max1 = std::move(st.max1);
        if (v.q == 1) s.min2 = std::move(st.min2), s.max2 = std::move(st.max2);
        return acc;
    }
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
    const std::int64_t chunk = std::max<std::int64_t>(1 << 18, 8 * (flat.n1 + flat.n2));
    const double acc =
        passFor<kWrite, kTwo, kSum>(want1, want2, data, flat, f, positions, threads, chunk);
    s.min1 = std::move(positions.min1);
    s.max1 = std::move(positions.max1);
    for (std::int64_t c = 0; want2 && c < v.n2; ++c) {
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

bool onAxis1(const AxisView& v, bool output) { return v.single || output == v.outFirst; }

std::int64_t channels(const AxisView& v, bool output) { return onAxis1(v, output) ? v.n1 : v.n2; }

// Multiplying every element of a channel by the same positive finite factor keeps the order of
// its elements (rounding is monotonic), so the channel's new min and max are its old ones times
// the factor, exactly. Only a channel whose min and max are both zero is measured again: its
// range's sign of zero depends on which zero a pass meets first.
bool derivable(const float* factor, std::int64_t n, const std::vector<float>& lo,
               const std::vector<float>& hi) {
    if (std::int64_t(lo.size()) != n || std::int64_t(hi.size()) != n) return false;
    for (std::int64_t c = 0; c < n; ++c)
        if (!(factor[c] > 0.f) || !std::isfinite(factor[c]) || (lo[c] == 0.f && hi[c] == 0.f))
            return false;
    return true;
}

// Fills the output (output) or input statistics of `fresh` from those of `old` times the factor
// (both sides for a depthwise view, whose input and output channels are the same).
void derive(Stats& fresh, const Stats& old, bool output, const float* factor, const AxisView& v) {
    const auto& lo = output ? old.outMin : old.inMin;
    const auto& hi = output ? old.outMax : old.inMax;
    std::vector<float> newLo(lo.size()), newHi(hi.size());
    for (size_t c = 0; c < lo.size(); ++c)
        newLo[c] = lo[c] * factor[c], newHi[c] = hi[c] * factor[c];
    if (v.single || !output) fresh.inMin = newLo, fresh.inMax = newHi;
    if (v.single || output) fresh.outMin = std::move(newLo), fresh.outMax = std::move(newHi);
}

// One writing pass with factors `f`; `derivedSide` (the output or input channels, scaled by
// `factor` only) takes its statistics from `stats` when that is exact.
double writePass(float* data, const AxisView& view, const Factors& f, bool derivedSide,
                 const float* factor, Stats& stats, int threads) {
    const auto& lo = derivedSide ? stats.outMin : stats.inMin;
    const auto& hi = derivedSide ? stats.outMax : stats.inMax;
    const bool derived = derivable(factor, channels(view, derivedSide), lo, hi);
    const bool skip1 = derived && (view.single || onAxis1(view, derivedSide));
    const bool skip2 = derived && (view.single || !onAxis1(view, derivedSide));
    AxisStats s(view);
    const double acc = f.two()
                           ? flatPass<true, true, true>(data, view, f, s, threads, !skip1, !skip2)
                           : flatPass<true, false, true>(data, view, f, s, threads, !skip1, !skip2);
    Stats fresh = toStats(std::move(s), view);
    if (derived) derive(fresh, stats, derivedSide, factor, view);
    stats = std::move(fresh);
    return acc;
}

}  // namespace

Stats measure(const float* data, const AxisView& view, int threads) {
    AxisStats s(view);
    // The read-only pass never stores through the pointer. Its "change" x * 1 - x is 0 for every
    // finite x and NaN otherwise, so the sum doubles as a finiteness check.
    double acc = flatPass<false, false, true>(const_cast<float*>(data), view, Factors{}, s, threads,
                                              true, true);
    Stats stats = toStats(std::move(s), view);
    stats.finite = std::isfinite(acc);
    return stats;
}

Stats measureScaledOutputs(const float* data, const AxisView& view, const float* inFactor,
                           int threads, const Stats* current) {
    // A depthwise kernel's input channels are its output channels: each is multiplied by one
    // factor, so its new min/max follow from the current ones when that is exact.
    if (view.single && current && derivable(inFactor, view.n1, current->outMin, current->outMax)) {
        Stats stats;
        derive(stats, *current, true, inFactor, view);
        stats.inMin.clear(), stats.inMax.clear();
        return stats;
    }
    AxisStats s(view);
    Factors f;
    slot(f, view, false, false) = inFactor;
    const bool out1 = onAxis1(view, true);
    flatPass<false, false, false>(const_cast<float*>(data), view, f, s, threads, out1, !out1);
    Stats stats = toStats(std::move(s), view);
    stats.inMin.clear(), stats.inMax.clear();
    return stats;
}

double scale(float* data, const AxisView& view, bool scaleOut, const float* factor, Stats& stats,
             int threads) {
    Factors f;
    slot(f, view, scaleOut, false) = factor;
    return writePass(data, view, f, scaleOut, factor, stats, threads);
}

double scaleInThenOut(float* data, const AxisView& view, const float* inFactor,
                      const float* outFactor, Stats& stats, int threads) {
    Factors f;
    slot(f, view, false, false) = inFactor;
    slot(f, view, true, true) = outFactor;
    return writePass(data, view, f, true, outFactor, stats, threads);
}

}  // namespace cle::core::kernel
