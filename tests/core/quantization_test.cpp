// The INT8 quantization preview: SQNR, and the collapse that an energy SQNR cannot show (one huge
// channel holds all the energy while the rest of the layer rounds to zero).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cle/core/equalizer.h"
#include "cle/core/quantization.h"
#include "cle/core/report.h"
#include "test_util.h"

using namespace cle;

namespace {

// [out, in] with output channel `huge` 1e5 times larger than the others.
core::Tensor oneHugeChannel(std::int64_t out, std::int64_t in, std::int64_t huge) {
    auto v = test::randomValues(size_t(out * in), 0.01, 7);
    core::Tensor t{{out, in}, std::vector<float>(v.begin(), v.end())};
    for (std::int64_t i = 0; i < in; ++i) t.values[size_t(huge * in + i)] *= 1e5f;
    return t;
}

core::Layer linear(const std::string& name, core::Tensor weight) {
    core::Layer l;
    l.info.name = name;
    l.info.kind = "Linear";
    l.info.shape = weight.shape;
    l.info.weightPath = "/" + name + ".weight";
    l.weight = std::move(weight);
    return l;
}

TEST(Quantization, CountsWeightsAndChannelsThatRoundToZero) {
    // Scale 127 / 127 = 1; round half to even sends 0.5 and -0.5 to zero.
    core::Tensor t{{3, 4},
                   {127, 0, 0.5f, 0.49f,   //
                    0.4f, -0.5f, 0, 0.3f,  // rounds to all zeros
                    0, 0, 0, 0}};          // all zero already: not counted
    auto q = core::quantizeInt8(t, 0);
    EXPECT_DOUBLE_EQ(q.zeroFraction, 5.0 / 6.0);
    EXPECT_EQ(q.zeroedChannels, 1);
    EXPECT_TRUE(q.collapsed());
    t.values[7] = 1.5f;  // channel 1 keeps a non-zero value; 4 of 6 still round to zero
    q = core::quantizeInt8(t, 0);
    EXPECT_DOUBLE_EQ(q.zeroFraction, 4.0 / 6.0);
    EXPECT_EQ(q.zeroedChannels, 0);
    t.values[3] = 3.f;  // 3 of 6: exactly half is not collapsed
    EXPECT_FALSE(core::quantizeInt8(t, 0).collapsed());
}

TEST(Quantization, OneHugeChannelHasAHighSqnrButIsCollapsed) {
    core::Tensor t = oneHugeChannel(8, 16, 3);
    auto q = core::quantizeInt8(t, 0);
    EXPECT_GT(q.perTensor, 40.0);  // what the energy figure alone would call excellent
    EXPECT_DOUBLE_EQ(q.perTensor, core::sqnrPerTensor(t));
    EXPECT_DOUBLE_EQ(q.perChannel, core::sqnrPerChannel(t, 0));
    EXPECT_GT(q.zeroFraction, 0.8);
    EXPECT_EQ(q.zeroedChannels, 7);
    EXPECT_TRUE(q.collapsed());

    // The same along the last axis (Keras Dense [in, out]).
    core::Tensor k{{16, 8}, std::vector<float>(128)};
    for (int o = 0; o < 8; ++o)
        for (int i = 0; i < 16; ++i) k.values[size_t(i * 8 + o)] = t.values[size_t(o * 16 + i)];
    auto qk = core::quantizeInt8(k, 1);
    EXPECT_EQ(qk.zeroedChannels, 7);
    EXPECT_DOUBLE_EQ(qk.zeroFraction, q.zeroFraction);
}

TEST(Quantization, ALayerThatEqualizationCollapsesIsNeverAGain) {
    core::Model before;
    auto v = test::randomValues(128, 1.0, 3);
    v[5] = 50;  // one outlier: a poor per-tensor SQNR, but most weights survive
    core::Layer fc = linear("fc", {{8, 16}, std::vector<float>(v.begin(), v.end())});
    before.info.layers.push_back(fc.info);
    before.layers.push_back(fc);
    auto report = core::quantizationBefore(before, {"fc"});
    core::Layer collapsed = linear("fc", oneHugeChannel(8, 16, 3));
    core::quantizationAfter(report, {collapsed});

    const auto& l = report.layers.at(0);
    EXPECT_FALSE(l.collapsedBefore);
    EXPECT_LT(l.zeroFractionBefore, 0.5);
    EXPECT_TRUE(l.collapsedAfter);
    EXPECT_TRUE(l.collapsedByEqualization());
    EXPECT_EQ(l.zeroedChannelsAfter, 7);
    EXPECT_GT(l.perTensorAfter, l.perTensorBefore);  // the energy figure says "gain"...
    EXPECT_EQ(report.collapsedLayers, (std::vector<std::string>{"fc"}));
    EXPECT_EQ(report.perTensorAfter.median, 0.0);  // ...the summary counts it as 0 dB
    EXPECT_EQ(report.perTensorAfter.weightedMean, 0.0);
    EXPECT_LT(report.perTensorAfter.median, report.perTensorBefore.median);

    auto j = nlohmann::json::parse(core::reportJson(before.info, {}, {}, {nullptr, &report}));
    const auto& q = j["quantization"];
    EXPECT_EQ(q["summary"]["collapsed_layers"], nlohmann::json::array({"fc"}));
    EXPECT_EQ(q["layers"][0]["collapsed_before"], false);
    EXPECT_EQ(q["layers"][0]["collapsed_after"], true);
    EXPECT_EQ(q["layers"][0]["zeroed_channels_after"], 7);
    EXPECT_GT(q["layers"][0]["zero_fraction_after"].get<double>(), 0.8);
    EXPECT_EQ(q["summary"]["per_tensor"]["after"]["median"], 0.0);
}

// The fraction of non-zero weights of `t` that round to zero, counted plainly.
double roundedToZero(const core::Tensor& t) {
    float maxAbs = 0;
    for (float x : t.values) maxAbs = std::max(maxAbs, std::abs(x));
    int nonZero = 0, zero = 0;
    for (float x : t.values) {
        if (x == 0) continue;
        ++nonZero;
        if (std::nearbyint(x / (maxAbs / 127.f)) == 0) ++zero;
    }
    return nonZero ? double(zero) / nonZero : 0.0;
}

// Every golden run: the collapse figures are right, and only the last layer of the wide convolution
// chain collapses (its output channels keep their log-normal scales, and equalizing its inputs
// spreads them further: per-tensor SQNR 32 -> 23 dB there).
TEST(Quantization, GoldenRunsCollapseOnlyWhereTheWeightsReallyRoundToZero) {
    std::ifstream in(test::dataPath("golden/manifest.json"));
    auto manifest = nlohmann::json::parse(in);
    int layers = 0;
    for (const auto& [name, c] : manifest.items()) {
        core::Model model =
            core::loadModel(test::dataPath("golden/" + c["input"].get<std::string>()));
        std::vector<core::Group> groups;
        for (const auto& g : c["groups"]) {
            auto parsed = core::parseGroups(g.get<std::string>());
            groups.insert(groups.end(), parsed.begin(), parsed.end());
        }
        auto pairs = core::expandGroups(groups);
        std::vector<std::string> names;
        for (const auto& [a, b] : pairs) names.insert(names.end(), {a, b});
        auto report = core::quantizationBefore(model, names);
        core::EqualizeOptions options;
        options.threshold = c["threshold"].get<double>();
        auto result = core::equalize(model, pairs, options);
        core::quantizationAfter(report, result.layers);
        const std::vector<std::string> expected = name == "imbalanced_convs"
                                                      ? std::vector<std::string>{"block3.conv"}
                                                      : std::vector<std::string>{};
        EXPECT_EQ(report.collapsedLayers, expected) << name;
        for (const auto& l : report.layers) {
            const core::Layer& a =
                *std::find_if(result.layers.begin(), result.layers.end(),
                              [&](const core::Layer& x) { return x.info.name == l.name; });
            EXPECT_DOUBLE_EQ(l.zeroFractionBefore, roundedToZero(model.find(l.name)->weight));
            EXPECT_DOUBLE_EQ(l.zeroFractionAfter, roundedToZero(a.weight)) << l.name;
            EXPECT_EQ(l.collapsedAfter, l.zeroFractionAfter > 0.5) << name << " " << l.name;
            ++layers;
        }
    }
    EXPECT_GT(layers, 10);
}

}  // namespace

namespace {

// Per-tensor INT8 noise and zero count the plain way: a division per value.
struct Plain {
    double signal = 0, noise = 0;
    std::int64_t nonZero = 0, roundedToZero = 0;
};
Plain plainPerTensor(const std::vector<float>& v) {
    float maxAbs = 0;
    for (float x : v) maxAbs = std::max(maxAbs, std::abs(x));
    const float s = maxAbs / 127.f;
    Plain p;
    for (float x : v) {
        const float q = std::clamp(std::nearbyint(x / s), -127.f, 127.f) * s;
        p.signal += double(x) * x;
        p.noise += double(x - q) * (x - q);
        p.nonZero += x != 0.f;
        p.roundedToZero += x != 0.f && q == 0.f;
    }
    return p;
}

TEST(Quantization, RoundsExactlyAsADivisionWouldNextToHalfSteps) {
    // Scale 1 / 127 (not a power of two): values at and one float either side of every half step
    // k + 0.5, where a multiplication by the reciprocal can round the other way.
    std::vector<float> v{1.f};
    const float s = 1.f / 127.f;
    for (int k = -127; k < 127; ++k) {
        const float half = (float(k) + 0.5f) * s;
        v.insert(v.end(), {std::nextafter(half, -2.f), half, std::nextafter(half, 2.f)});
    }
    const Plain plain = plainPerTensor(v);
    const auto q = core::quantizeInt8(core::Tensor{{1, std::int64_t(v.size())}, v}, 0);
    // Equal up to the order of the sums; one value rounded the other way would change it by 1e-3.
    EXPECT_NEAR(q.perTensor, 10.0 * std::log10(plain.signal / plain.noise), 1e-9);
    EXPECT_EQ(q.zeroFraction, double(plain.roundedToZero) / double(plain.nonZero));
    // One channel: the per-channel scale is the tensor's.
    EXPECT_EQ(q.perChannel, q.perTensor);
}

}  // namespace
