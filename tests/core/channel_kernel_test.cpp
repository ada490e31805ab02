// The sweep kernel against a plain element-by-element reference: new values, per-channel min/max
// (derived for the scaled axis, read for the other) and the change sum in its documented order,
// bit for bit and for every thread count.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "engine/channel_kernel.h"

using namespace cle::core;

namespace {

struct Case {
    std::vector<std::int64_t> shape;
    int outAxis, inAxis;
    std::int64_t rowLength = 0;  ///< elements per row of the kernel (0: all after the first axis)
};

std::int64_t count(const std::vector<std::int64_t>& shape) {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
}

// Output and input channel of flat element i.
std::pair<std::int64_t, std::int64_t> channelsOf(const Case& c, std::int64_t i) {
    std::vector<std::int64_t> index(c.shape.size());
    for (size_t k = c.shape.size(); k-- > 0;) index[k] = i % c.shape[k], i /= c.shape[k];
    return {index[size_t(c.outAxis)], index[size_t(c.inAxis)]};
}

// The change sum in the kernel's order: rows (everything after the first channel axis, whole),
// element k of a row into lane k % 8, the lanes added in order; rows added in order within
// chunks of max(2^18, 8 * (channels along the first axis + row length)) elements (a depthwise
// kernel: + 1 instead of the row length), the chunks in order.
double referenceSum(const std::vector<float>& before, const std::vector<float>& after,
                    std::int64_t rowLength, std::int64_t firstChannels, bool single) {
    const std::int64_t rows = std::int64_t(before.size()) / rowLength;
    const std::int64_t chunk =
        std::max<std::int64_t>(1 << 18, 8 * (firstChannels + (single ? 1 : rowLength)));
    const std::int64_t chunkRows = std::max<std::int64_t>(1, chunk / rowLength);
    double total = 0;
    for (std::int64_t r0 = 0; r0 < rows; r0 += chunkRows) {
        double chunkSum = 0;
        for (std::int64_t r = r0; r < std::min(rows, r0 + chunkRows); ++r) {
            double lanes[8] = {};
            for (std::int64_t k = 0; k < rowLength; ++k) {
                const float d =
                    after[size_t(r * rowLength + k)] - before[size_t(r * rowLength + k)];
                lanes[k % 8] += double(d) * double(d);
            }
            double rowSum = 0;
            for (double l : lanes) rowSum += l;
            chunkSum += rowSum;
        }
        total += chunkSum;
    }
    return total;
}

void expectStats(const Case& c, const std::vector<float>& x, const kernel::Stats& s) {
    const std::int64_t outs = c.shape[size_t(c.outAxis)], ins = c.shape[size_t(c.inAxis)];
    const float inf = std::numeric_limits<float>::infinity();
    std::vector<float> outMin(size_t(outs), inf), outMax(size_t(outs), -inf);
    std::vector<float> inMin(size_t(ins), inf), inMax(size_t(ins), -inf);
    for (std::int64_t i = 0; i < std::int64_t(x.size()); ++i) {
        auto [o, n] = channelsOf(c, i);
        outMin[size_t(o)] = std::min(outMin[size_t(o)], x[size_t(i)]);
        outMax[size_t(o)] = std::max(outMax[size_t(o)], x[size_t(i)]);
        inMin[size_t(n)] = std::min(inMin[size_t(n)], x[size_t(i)]);
        inMax[size_t(n)] = std::max(inMax[size_t(n)], x[size_t(i)]);
    }
    EXPECT_EQ(s.outMin, outMin);
    EXPECT_EQ(s.outMax, outMax);
    EXPECT_EQ(s.inMin, inMin);
    EXPECT_EQ(s.inMax, inMax);
}

std::vector<float> randomValues(std::int64_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    std::vector<float> x(static_cast<size_t>(n));
    for (auto& v : x) v = normal(rng);
    return x;
}

std::vector<float> factors(std::int64_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(0.25f, 4.f);
    std::vector<float> f(static_cast<size_t>(n));
    for (auto& v : f) v = u(rng);
    return f;
}

std::int64_t rowLength(const Case& c) {
    return c.rowLength ? c.rowLength : count(c.shape) / c.shape[0];
}

const std::vector<Case> kCases = {
    {{256, 256, 3, 3}, 0, 1},     // 589824 weights: split between threads
    {{192, 768, 1, 1}, 0, 1},     // 1x1
    {{24, 2500, 3, 3}, 0, 1},     // long rows (four share the per-position min/max), split too
    {{40, 40, 1, 7}, 0, 1},       // 1x7
    {{96, 1, 3, 3}, 0, 0},        // depthwise
    {{300, 500}, 0, 1},           // Linear
    {{3, 3, 30000, 1}, 2, 2, 1},  // depthwise, Keras layout: rows of one weight, two chunks
};

}  // namespace

TEST(ChannelKernel, ScaleMatchesReferenceForEveryThreadCount) {
    for (const auto& c : kCases) {
        SCOPED_TRACE(c.shape[0] * 100000 + c.shape[1]);
        const auto view = kernel::makeView(c.shape, c.outAxis, c.inAxis);
        const std::vector<float> start = randomValues(count(c.shape), 7);
        const std::int64_t outs = c.shape[size_t(c.outAxis)], ins = c.shape[size_t(c.inAxis)];
        for (bool scaleOut : {true, false}) {
            const std::vector<float> f = factors(scaleOut ? outs : ins, scaleOut ? 1 : 2);
            std::vector<float> expected = start;
            for (std::int64_t i = 0; i < std::int64_t(start.size()); ++i) {
                auto [o, n] = channelsOf(c, i);
                expected[size_t(i)] = start[size_t(i)] * f[size_t(scaleOut ? o : n)];
            }
            const double sum =
                referenceSum(start, expected, rowLength(c), outs, c.outAxis == c.inAxis);
            for (int threads : {1, 2, 3}) {
                std::vector<float> x = start;
                kernel::Stats s = kernel::measure(x.data(), view, threads);
                const double got = kernel::scale(x.data(), view, scaleOut, f.data(), s, threads);
                EXPECT_EQ(std::memcmp(&got, &sum, sizeof sum), 0) << got << " vs " << sum;
                EXPECT_EQ(x, expected);
                expectStats(c, x, s);
            }
        }
    }
}

TEST(ChannelKernel, InThenOutMatchesTwoMultiplications) {
    for (const auto& c : kCases) {
        SCOPED_TRACE(c.shape[0] * 100000 + c.shape[1]);
        const auto view = kernel::makeView(c.shape, c.outAxis, c.inAxis);
        const std::vector<float> start = randomValues(count(c.shape), 11);
        const std::int64_t outs = c.shape[size_t(c.outAxis)], ins = c.shape[size_t(c.inAxis)];
        const std::vector<float> in = factors(ins, 3), out = factors(outs, 4);
        std::vector<float> middle = start, expected = start;
        for (std::int64_t i = 0; i < std::int64_t(start.size()); ++i) {
            auto [o, n] = channelsOf(c, i);
            middle[size_t(i)] = start[size_t(i)] * in[size_t(n)];
            expected[size_t(i)] = middle[size_t(i)] * out[size_t(o)];
        }
        const double sum =
            referenceSum(middle, expected, rowLength(c), outs, c.outAxis == c.inAxis);
        for (int threads : {1, 2, 3}) {
            std::vector<float> x = start;
            // Given the current statistics, a depthwise kernel's are derived from them.
            const kernel::Stats now = kernel::measure(x.data(), view, 1);
            kernel::Stats s = kernel::measureScaledOutputs(x.data(), view, in.data(), threads,
                                                           threads == 2 ? &now : nullptr);
            kernel::Stats full = kernel::measure(middle.data(), view, 1);
            EXPECT_EQ(s.outMin, full.outMin);
            EXPECT_EQ(s.outMax, full.outMax);
            EXPECT_EQ(x, start);  // read only
            const double got =
                kernel::scaleInThenOut(x.data(), view, in.data(), out.data(), s, threads);
            EXPECT_EQ(std::memcmp(&got, &sum, sizeof sum), 0) << got << " vs " << sum;
            EXPECT_EQ(x, expected);
            expectStats(c, x, s);
        }
    }
}

// Keras layout [kh, kw, in, out]: the output axis runs along the rows' elements.
TEST(ChannelKernel, KerasLayoutStatistics) {
    const Case c{{3, 3, 48, 64}, 3, 2};
    const auto view = kernel::makeView(c.shape, c.outAxis, c.inAxis);
    std::vector<float> x = randomValues(count(c.shape), 5);
    for (bool scaleOut : {true, false}) {
        const std::vector<float> f = factors(c.shape[size_t(scaleOut ? 3 : 2)], 6);
        kernel::Stats s = kernel::measure(x.data(), view, 1);
        kernel::scale(x.data(), view, scaleOut, f.data(), s, 2);
        expectStats(c, x, s);
    }
}

// A channel whose min and max are both zero, and factors that are not positive, are measured
// from the values instead of derived.
TEST(ChannelKernel, ZeroChannelsAndNonPositiveFactorsAreMeasured) {
    const Case c{{16, 40}, 0, 1};
    const auto view = kernel::makeView(c.shape, 0, 1);
    std::vector<float> x = randomValues(count(c.shape), 9);
    for (int k = 0; k < 40; ++k) x[size_t(3 * 40 + k)] = k % 2 ? 0.f : -0.f;  // row 3: zeros
    std::vector<float> f = factors(16, 10);
    kernel::Stats s = kernel::measure(x.data(), view, 1);
    kernel::scale(x.data(), view, true, f.data(), s, 1);
    expectStats(c, x, s);
    f[5] = -2.f;
    kernel::scale(x.data(), view, true, f.data(), s, 1);
    expectStats(c, x, s);
}
