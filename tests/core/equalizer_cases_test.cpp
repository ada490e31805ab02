// Degenerate channels met in real networks: dead and constant channels are left unscaled without
// disturbing any other channel, and a near-dead channel keeps the reference's numbers but has its
// bias amplification reported.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "cle/core/equalizer.h"
#include "test_util.h"

using namespace cle;

namespace {

core::Model loadCase(const std::string& name) {
    return core::loadModel(test::dataPath("cases/" + name + ".h5"));
}

// y = W2 relu(W1 x + b1) + b2 for PyTorch Linear layers fc1 and fc2, in double.
std::vector<double> forward(const core::Model& m, const std::vector<double>& x) {
    std::vector<double> h = x;
    for (const char* name : {"fc1", "fc2"}) {
        const core::Layer& l = *m.find(name);
        const auto out = l.weight.shape[0], in = l.weight.shape[1];
        std::vector<double> y(size_t(out), 0.0);
        for (std::int64_t o = 0; o < out; ++o) {
            for (std::int64_t i = 0; i < in; ++i)
                y[size_t(o)] += double(l.weight.values[size_t(o * in + i)]) * h[size_t(i)];
            if (l.bias) y[size_t(o)] += l.bias->values[size_t(o)];
            if (std::string(name) == "fc1") y[size_t(o)] = std::max(0.0, y[size_t(o)]);
        }
        h = y;
    }
    return h;
}

// Largest ||f_after(x) - f_before(x)|| / ||f_before(x)|| over random inputs.
double functionError(const core::Model& before, const core::Model& after) {
    double worst = 0;
    for (unsigned seed = 0; seed < 20; ++seed) {
        auto x = test::randomValues(size_t(before.find("fc1")->weight.shape[1]), 3.0, 900 + seed);
        auto y0 = forward(before, x), y1 = forward(after, x);
        double diff = 0, norm = 0;
        for (size_t i = 0; i < y0.size(); ++i) {
            diff += (y1[i] - y0[i]) * (y1[i] - y0[i]);
            norm += y0[i] * y0[i];
        }
        worst = std::max(worst, std::sqrt(diff / norm));
    }
    return worst;
}

// fc1's output channels (rows and bias) and fc2's input channels (columns) in `drop` removed.
core::Model withoutChannels(core::Model m, const std::set<int>& drop) {
    core::Layer& a = *m.find("fc1");
    core::Layer& b = *m.find("fc2");
    const auto n = a.weight.shape[0], in = a.weight.shape[1], out = b.weight.shape[0];
    std::vector<float> wa, ba, wb;
    for (std::int64_t c = 0; c < n; ++c) {
        if (drop.count(int(c))) continue;
        wa.insert(wa.end(), a.weight.values.begin() + c * in,
                  a.weight.values.begin() + (c + 1) * in);
        ba.push_back(a.bias->values[size_t(c)]);
    }
    for (std::int64_t o = 0; o < out; ++o)
        for (std::int64_t c = 0; c < n; ++c)
            if (!drop.count(int(c))) wb.push_back(b.weight.values[size_t(o * n + c)]);
    const std::int64_t kept = n - std::int64_t(drop.size());
    a.weight = {{kept, in}, wa};
    a.bias = core::Tensor{{kept}, ba};
    b.weight = {{out, kept}, wb};
    for (auto& info : m.info.layers) {
        if (info.name == "fc1") info.shape = a.weight.shape, info.biasSize = kept;
        if (info.name == "fc2") info.shape = b.weight.shape;
    }
    a.info.shape = a.weight.shape;
    a.info.biasSize = kept;
    b.info.shape = b.weight.shape;
    return m;
}

TEST(DegenerateChannels, DeadAndConstantChannelsStayUnscaledAndTheRestIsUntouched) {
    core::Model model = loadCase("zero-channels");
    auto result = core::equalize(model, {{"fc1", "fc2"}});
    ASSERT_TRUE(result.summary.converged);
    const auto& h = result.summary.pairs[0];
    EXPECT_EQ(h.deadChannels, (std::vector<int>{2, 5}));
    EXPECT_EQ(h.constantInputChannels, (std::vector<int>{6}));
    EXPECT_TRUE(h.amplifiedBias.empty());
    for (int c : {2, 5, 6}) EXPECT_EQ(h.scale[size_t(c)], 1.f) << "channel " << c;

    core::Model after = model;
    core::applyLayers(after, result.layers);
    const auto& a0 = model.find("fc1")->weight.values;
    const auto& a1 = after.find("fc1")->weight.values;
    const auto& b0 = model.find("fc2")->weight.values;
    const auto& b1 = after.find("fc2")->weight.values;
    for (int c : {2, 5, 6}) {
        for (int i = 0; i < 6; ++i) EXPECT_EQ(a1[size_t(c * 6 + i)], a0[size_t(c * 6 + i)]);
        for (int o = 0; o < 5; ++o) EXPECT_EQ(b1[size_t(o * 8 + c)], b0[size_t(o * 8 + c)]);
    }

    // Every other channel: the numbers and sweep count of the same run without channels 2, 5, 6.
    const std::set<int> drop{2, 5, 6};
    core::Model reduced = withoutChannels(model, drop);
    auto expected = core::equalize(reduced, {{"fc1", "fc2"}});
    EXPECT_TRUE(expected.summary.pairs[0].deadChannels.empty());
    EXPECT_TRUE(expected.summary.pairs[0].constantInputChannels.empty());
    ASSERT_EQ(result.summary.sweeps, expected.summary.sweeps);
    for (size_t k = 0; k < expected.summary.deltas.size(); ++k)
        EXPECT_NEAR(result.summary.deltas[k], expected.summary.deltas[k],
                    1e-6 * expected.summary.deltas[k]);
    core::Model reducedAfter = reduced;
    core::applyLayers(reducedAfter, expected.layers);
    const auto& ra = reducedAfter.find("fc1")->weight.values;
    const auto& rb = reducedAfter.find("fc2")->weight.values;
    const auto& rbias = reducedAfter.find("fc1")->bias->values;
    for (int c = 0, k = 0; c < 8; ++c) {
        if (drop.count(c)) continue;
        EXPECT_EQ(h.scale[size_t(c)], expected.summary.pairs[0].scale[size_t(k)]);
        for (int i = 0; i < 6; ++i) EXPECT_EQ(a1[size_t(c * 6 + i)], ra[size_t(k * 6 + i)]);
        EXPECT_EQ(after.find("fc1")->bias->values[size_t(c)], rbias[size_t(k)]);
        for (int o = 0; o < 5; ++o) EXPECT_EQ(b1[size_t(o * 8 + c)], rb[size_t(o * 5 + k)]);
        ++k;
    }
    EXPECT_LT(functionError(model, after), 1e-5);
}

// The reference for one Linear pair, written out plainly: float32 ranges, factors and products,
// float32 norms, sweeps until the summed change is below the threshold.
int referenceSweeps(core::Layer& a, core::Layer& b, float threshold) {
    const auto n = a.weight.shape[0], in = a.weight.shape[1], out = b.weight.shape[0];
    for (int sweep = 1;; ++sweep) {
        double changeA = 0, changeB = 0;
        for (std::int64_t c = 0; c < n; ++c) {
            float lo1 = INFINITY, hi1 = -INFINITY, lo2 = INFINITY, hi2 = -INFINITY;
            for (std::int64_t i = 0; i < in; ++i) {
                lo1 = std::min(lo1, a.weight.values[size_t(c * in + i)]);
                hi1 = std::max(hi1, a.weight.values[size_t(c * in + i)]);
            }
            for (std::int64_t o = 0; o < out; ++o) {
                lo2 = std::min(lo2, b.weight.values[size_t(o * n + c)]);
                hi2 = std::max(hi2, b.weight.values[size_t(o * n + c)]);
            }
            const float s = std::sqrt((hi1 - lo1) / ((hi2 - lo2) + 1e-9f));
            const float inv = 1.0f / s;
            for (std::int64_t i = 0; i < in; ++i) {
                float& w = a.weight.values[size_t(c * in + i)];
                const float d = w * inv - w;
                changeA += double(d) * d;
                w *= inv;
            }
            a.bias->values[size_t(c)] *= inv;
            for (std::int64_t o = 0; o < out; ++o) {
                float& w = b.weight.values[size_t(o * n + c)];
                const float d = w * s - w;
                changeB += double(d) * d;
                w *= s;
            }
        }
        if (float(std::sqrt(changeA)) + float(std::sqrt(changeB)) < threshold) return sweep;
    }
}

TEST(DegenerateChannels, NearDeadChannelKeepsTheReferenceNumbersAndReportsItsBias) {
    core::Model model = loadCase("near-dead-channel");
    auto result = core::equalize(model, {{"fc1", "fc2"}});
    ASSERT_TRUE(result.summary.converged);
    core::Model after = model;
    core::applyLayers(after, result.layers);

    core::Model reference = model;
    const int sweeps = referenceSweeps(*reference.find("fc1"), *reference.find("fc2"), float(1e-4));
    EXPECT_EQ(result.summary.sweeps, sweeps);
    for (const char* name : {"fc1", "fc2"}) {
        const auto& got = after.find(name)->weight.values;
        const auto& want = reference.find(name)->weight.values;
        for (size_t i = 0; i < got.size(); ++i) EXPECT_FLOAT_EQ(got[i], want[i]) << name << i;
    }
    EXPECT_EQ(after.find("fc1")->bias->values, reference.find("fc1")->bias->values);
    EXPECT_LT(functionError(model, after), 1e-5);

    const auto& h = result.summary.pairs[0];
    EXPECT_TRUE(h.deadChannels.empty());
    EXPECT_TRUE(h.constantInputChannels.empty());
    ASSERT_EQ(h.amplifiedBias.size(), 1u);
    const auto& amplified = h.amplifiedBias[0];
    EXPECT_EQ(amplified.channel, 4);
    EXPECT_NEAR(amplified.amplification, 1.0 / double(h.scale[4]), 1e-6 * amplified.amplification);
    EXPECT_GT(amplified.amplification, 1e4);
    EXPECT_LT(amplified.amplification, 1e5);
    EXPECT_FLOAT_EQ(amplified.biasBefore, 0.8f);
    EXPECT_EQ(amplified.biasAfter, after.find("fc1")->bias->values[4]);
    EXPECT_NEAR(amplified.biasAfter / amplified.biasBefore, amplified.amplification,
                1e-4 * amplified.amplification);
}

TEST(DegenerateChannels, NoBiasOrAModestFactorIsNotReported) {
    core::Model model = loadCase("near-dead-channel");
    model.find("fc1")->bias->values[4] = 0.f;  // the same factor, but nothing to amplify
    auto result = core::equalize(model, {{"fc1", "fc2"}});
    EXPECT_TRUE(result.summary.pairs[0].amplifiedBias.empty());
    for (float s : result.summary.pairs[0].scale) EXPECT_GT(s, 0.f);
}

}  // namespace
