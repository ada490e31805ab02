// Engine behaviour beyond the golden files: function preservation, dead channels, the sweep
// limit, cancel, progress, history and determinism.
#include <gtest/gtest.h>

#include <cmath>

#include "cle/core/equalizer.h"
#include "cle/core/error.h"
#include "test_util.h"

using namespace cle;

namespace {

core::Layer linear(const std::string& name, int out, int in, unsigned seed, bool bias = true) {
    core::Layer l;
    l.info.name = name;
    l.info.kind = "Linear";
    l.info.shape = {out, in};
    l.info.weightPath = "/" + name + ".weight";
    l.weight.shape = {out, in};
    auto v = test::randomValues(size_t(out * in), 1.0, seed);
    for (int o = 0; o < out; ++o)  // very different channel scales
        for (int i = 0; i < in; ++i) v[size_t(o * in + i)] *= std::pow(4.0, o % 5);
    l.weight.values.assign(v.begin(), v.end());
    if (bias) {
        l.info.biasPath = "/" + name + ".bias";
        auto b = test::randomValues(size_t(out), 1.0, seed + 100);
        l.bias = core::Tensor{{out}, std::vector<float>(b.begin(), b.end())};
    }
    return l;
}

core::Model chain(std::vector<core::Layer> layers) {
    core::Model m;
    for (auto& l : layers) {
        m.info.layers.push_back(l.info);
        m.layers.push_back(std::move(l));
    }
    return m;
}

// y = W2 relu(W1 x + b1) + b2, computed in double.
std::vector<double> forward(const core::Model& m, const std::vector<double>& x) {
    std::vector<double> h = x;
    for (size_t k = 0; k < m.layers.size(); ++k) {
        const auto& l = m.layers[k];
        auto out = l.weight.shape[0], in = l.weight.shape[1];
        std::vector<double> y(size_t(out), 0.0);
        for (long o = 0; o < out; ++o) {
            for (long i = 0; i < in; ++i)
                y[size_t(o)] += l.weight.values[size_t(o * in + i)] * h[size_t(i)];
            if (l.bias) y[size_t(o)] += l.bias->values[size_t(o)];
            if (k + 1 < m.layers.size()) y[size_t(o)] = std::max(0.0, y[size_t(o)]);
        }
        h = y;
    }
    return h;
}

TEST(Equalizer, LinearReluLinearComputesTheSameFunction) {
    core::Model m = chain({linear("fc1", 16, 8, 1), linear("fc2", 4, 16, 2)});
    auto result = core::equalize(m, {{"fc1", "fc2"}}, {1e-6, 1000});
    ASSERT_TRUE(result.summary.converged);
    core::Model after = m;
    core::applyLayers(after, result.layers);
    // The ranges really changed: output ranges of fc1 now equal input ranges of fc2.
    const auto& last = result.summary.pairs[0].states.back();
    for (size_t c = 0; c < last.out.size(); ++c) EXPECT_NEAR(last.out[c], last.in[c], 1e-5);
    EXPECT_GT(core::rangeImbalance(result.summary.pairs[0].states.front().out), 50.0);
    for (unsigned seed = 0; seed < 5; ++seed) {
        auto x = test::randomValues(8, 2.0, 50 + seed);
        auto y0 = forward(m, x), y1 = forward(after, x);
        for (size_t i = 0; i < y0.size(); ++i)
            EXPECT_NEAR(y1[i], y0[i], 1e-4 * (1 + std::abs(y0[i])));
    }
}

TEST(Equalizer, DeadChannelsStayUnscaledAndAreReported) {
    core::Model m = chain({linear("fc1", 6, 5, 3), linear("fc2", 3, 6, 4)});
    for (int i = 0; i < 5; ++i) {  // channels 1 and 4 constant: range 0
        m.layers[0].weight.values[size_t(1 * 5 + i)] = 0.25f;
        m.layers[0].weight.values[size_t(4 * 5 + i)] = 0.f;
    }
    auto before = m.layers[1].weight.values;
    auto result = core::equalize(m, {{"fc1", "fc2"}}, {1e-6, 1000});
    EXPECT_TRUE(result.summary.converged);
    EXPECT_EQ(result.summary.pairs[0].deadChannels, (std::vector<int>{1, 4}));
    for (float v : result.layers[0].weight.values) EXPECT_TRUE(std::isfinite(v));
    for (float v : result.layers[1].weight.values) EXPECT_TRUE(std::isfinite(v));
    for (int o = 0; o < 3; ++o)  // the input column of a dead channel is untouched
        EXPECT_EQ(result.layers[1].weight.values[size_t(o * 6 + 1)], before[size_t(o * 6 + 1)]);
    EXPECT_EQ(result.summary.pairs[0].scale[1], 1.f);
}

TEST(Equalizer, ConstantInputChannelStaysUnscaledAndIsReported) {
    core::Model m = chain({linear("fc1", 4, 3, 5), linear("fc2", 3, 4, 6)});
    for (int o = 0; o < 3; ++o) m.layers[1].weight.values[size_t(o * 4 + 2)] = 0.5f;
    auto result = core::equalize(m, {{"fc1", "fc2"}}, {1e-4, 3});
    const auto& h = result.summary.pairs[0];
    EXPECT_EQ(h.constantInputChannels, (std::vector<int>{2}));
    EXPECT_TRUE(h.deadChannels.empty());
    EXPECT_EQ(h.scale[2], 1.f);  // the reference would give sqrt(r1 / 1e-9), every sweep
    for (int i = 0; i < 3; ++i)
        EXPECT_EQ(result.layers[0].weight.values[size_t(2 * 3 + i)],
                  m.layers[0].weight.values[size_t(2 * 3 + i)]);
    for (int o = 0; o < 3; ++o) EXPECT_EQ(result.layers[1].weight.values[size_t(o * 4 + 2)], 0.5f);
}

TEST(Equalizer, SweepLimitEndsARunThatDoesNotConverge) {
    core::Model m = chain({linear("a", 8, 8, 7), linear("b", 8, 8, 8), linear("c", 8, 8, 9)});
    auto result = core::equalize(m, core::expandGroups({{"a", "b", "c"}}), {1e-30, 4});
    EXPECT_FALSE(result.summary.converged);
    EXPECT_EQ(result.summary.sweeps, 4);
    EXPECT_EQ(result.summary.deltas.size(), 4u);
    EXPECT_EQ(result.summary.pairs[1].states.size(), 5u);
    EXPECT_EQ(result.layers.size(), 3u);
}

TEST(Equalizer, CancelLeavesNothingAndProgressIsReported) {
    core::Model m = chain({linear("a", 8, 8, 7), linear("b", 8, 8, 8), linear("c", 8, 8, 9)});
    auto copy = m.layers[0].weight.values;
    int pairsSeen = 0, sweepsSeen = 0;
    auto result = core::equalize(m, core::expandGroups({{"a", "b", "c"}}), {1e-30, 100},
                                 [&](const core::Progress& p) {
                                     EXPECT_EQ(p.pairCount, 2);
                                     EXPECT_NE(p.summary, nullptr);
                                     (p.sweepDone ? sweepsSeen : pairsSeen)++;
                                     return p.sweep < 3;
                                 });
    EXPECT_TRUE(result.summary.cancelled);
    EXPECT_TRUE(result.layers.empty());
    EXPECT_EQ(sweepsSeen, 2);
    EXPECT_EQ(pairsSeen, 5);
    EXPECT_EQ(m.layers[0].weight.values, copy);  // the caller's model is never changed
}

TEST(Equalizer, ResultsAreRepeatableBitForBit) {
    core::Model m = chain({linear("a", 32, 16, 1), linear("b", 24, 32, 2), linear("c", 8, 24, 3)});
    auto pairs = core::expandGroups({{"a", "b", "c"}});
    auto r1 = core::equalize(m, pairs, {1e-6, 1000});
    auto r2 = core::equalize(m, pairs, {1e-6, 1000});
    EXPECT_EQ(r1.summary.deltas, r2.summary.deltas);
    for (size_t i = 0; i < r1.layers.size(); ++i)
        EXPECT_EQ(r1.layers[i].weight.values, r2.layers[i].weight.values);
}

TEST(Equalizer, ResultsDoNotDependOnTheNumberOfThreads) {
    // 1.5 M weights per layer: several chunks, so the threads really share the work.
    core::Model m = chain({linear("a", 1500, 1000, 1), linear("b", 64, 1500, 2)});
    auto pairs = core::expandGroups({{"a", "b"}});
    auto one = core::equalize(m, pairs, {1e-30, 3, 1});
    auto three = core::equalize(m, pairs, {1e-30, 3, 3});
    EXPECT_EQ(one.summary.deltas, three.summary.deltas);
    for (size_t i = 0; i < one.layers.size(); ++i)
        EXPECT_EQ(one.layers[i].weight.values, three.layers[i].weight.values);
    EXPECT_EQ(one.summary.pairs[0].states.back().out, three.summary.pairs[0].states.back().out);
}

// A PyTorch Conv2d [out, in, k, k] (or a Keras Conv2D [k, k, in, out]) with channel scales 4^(c %
// 5).
core::Layer conv(const std::string& name, int out, int in, int k, unsigned seed,
                 core::Layout layout = core::Layout::Torch) {
    core::Layer l = linear(name, out, in * k * k, seed);
    l.info.kind = layout == core::Layout::Torch ? "Conv2d" : "Conv2D";
    l.info.layout = layout;
    l.info.shape = layout == core::Layout::Torch ? std::vector<std::int64_t>{out, in, k, k}
                                                 : std::vector<std::int64_t>{k, k, in, out};
    l.weight.shape = l.info.shape;
    return l;
}

TEST(Equalizer, ConvolutionResultsDoNotDependOnTheNumberOfThreads) {
    // The middle layer spans several chunks (409 600 weights), so 2 and 3 threads share it.
    for (auto layout : {core::Layout::Torch, core::Layout::Keras}) {
        core::Model m = chain({conv("a", 64, 3, 3, 1, layout), conv("b", 256, 64, 5, 2, layout),
                               conv("c", 32, 256, 3, 3, layout)});
        auto pairs = core::expandGroups({{"a", "b", "c"}});
        auto one = core::equalize(m, pairs, {1e-30, 4, 1});
        for (int threads : {2, 3}) {
            auto more = core::equalize(m, pairs, {1e-30, 4, threads});
            EXPECT_EQ(one.summary.deltas, more.summary.deltas) << threads;
            for (size_t i = 0; i < one.layers.size(); ++i)
                EXPECT_EQ(one.layers[i].weight.values, more.layers[i].weight.values) << threads;
            for (size_t p = 0; p < pairs.size(); ++p)
                for (size_t k = 0; k < one.summary.pairs[p].states.size(); ++k) {
                    EXPECT_EQ(one.summary.pairs[p].states[k].out,
                              more.summary.pairs[p].states[k].out);
                    EXPECT_EQ(one.summary.pairs[p].states[k].in,
                              more.summary.pairs[p].states[k].in);
                }
        }
    }
}

// The input-channel ranges the engine reports are those of the weights it returns.
TEST(Equalizer, ConvolutionRangesMatchTheWeights) {
    core::Model m = chain({conv("a", 8, 3, 3, 1), conv("b", 16, 8, 3, 2), conv("c", 4, 16, 3, 3)});
    auto r = core::equalize(m, core::expandGroups({{"a", "b", "c"}}), {1e-30, 3, 2});
    const auto& b = r.layers[1].weight;
    auto in = core::channelStats(b, 1).range(), out = core::channelStats(b, 0).range();
    EXPECT_EQ(r.summary.pairs[0].states.back().in, in);
    EXPECT_EQ(r.summary.pairs[1].states.back().out, out);
}

TEST(Equalizer, RejectsBadInputWithTheLayerNamed) {
    core::Model m = chain({linear("fc1", 4, 3, 1), linear("fc2", 2, 5, 2)});
    auto message = [&](const std::vector<core::LayerPair>& pairs, core::EqualizeOptions o = {}) {
        try {
            core::equalize(m, pairs, o);
        } catch (const core::Error& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_NE(message({{"fc1", "fc2"}}).find("channel mismatch"), std::string::npos);
    EXPECT_NE(message({{"fc1", "nope"}}).find("unknown layer 'nope'"), std::string::npos);
    EXPECT_NE(message({}).find("no layer pairs"), std::string::npos);
    EXPECT_NE(message({{"fc1", "fc2"}}, {0.0, 10}).find("threshold"), std::string::npos);
    core::Model ok = chain({linear("fc1", 4, 3, 1), linear("fc2", 2, 4, 2)});
    ok.layers[1].weight.values[3] = std::nanf("");
    try {
        core::equalize(ok, {{"fc1", "fc2"}});
        FAIL() << "NaN accepted";
    } catch (const core::Error& e) {
        EXPECT_NE(std::string(e.what()).find("'fc2' has a non-finite weight"), std::string::npos);
    }
}

TEST(Equalizer, GroupOfOneNameIsAUsageError) {
    try {
        core::parseGroups("a,b;c");
        FAIL();
    } catch (const core::Error& e) {
        EXPECT_EQ(e.kind(), core::ErrorKind::Usage);
        EXPECT_NE(std::string(e.what()).find("'c'"), std::string::npos);
    }
    EXPECT_EQ(core::expandGroups(core::parseGroups(" a , b ,c; d,e ")).size(), 3u);
}

}  // namespace

// Per-channel statistics come from the engine's measuring pass; they are the plain minimum and
// maximum over every other axis, bit for bit, whatever the shape and axis (odd sizes leave
// remainders after the kernel's 8-wide lanes).
TEST(ChannelStats, MatchAPlainLoopOnEveryAxis) {
    const std::vector<std::vector<std::int64_t>> shapes = {
        {13}, {5, 11}, {3, 7, 9}, {3, 3, 17, 10}, {2, 5, 3, 4, 19}};
    unsigned seed = 7;
    for (const auto& shape : shapes) {
        core::Tensor t;
        t.shape = shape;
        const auto values = test::randomValues(size_t(t.size()), 3.0, seed++);
        t.values.assign(values.begin(), values.end());
        t.values[t.values.size() / 2] = -0.0f;
        for (int axis = 0; axis < t.rank(); ++axis) {
            std::int64_t outer = 1, inner = 1, channels = shape[size_t(axis)];
            for (int i = 0; i < axis; ++i) outer *= shape[size_t(i)];
            for (int i = axis + 1; i < t.rank(); ++i) inner *= shape[size_t(i)];
            std::vector<float> lo(size_t(channels), INFINITY), hi(size_t(channels), -INFINITY);
            const float* p = t.values.data();
            for (std::int64_t o = 0; o < outer; ++o)
                for (std::int64_t c = 0; c < channels; ++c)
                    for (std::int64_t i = 0; i < inner; ++i, ++p) {
                        lo[size_t(c)] = std::min(lo[size_t(c)], *p);
                        hi[size_t(c)] = std::max(hi[size_t(c)], *p);
                    }
            const core::ChannelStats s = core::channelStats(t, axis);
            EXPECT_EQ(s.min, lo) << "rank " << t.rank() << " axis " << axis;
            EXPECT_EQ(s.max, hi) << "rank " << t.rank() << " axis " << axis;
        }
    }
}
