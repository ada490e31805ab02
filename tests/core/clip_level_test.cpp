// Relaxing a clipping activation to ReLU costs what lies above its own clip level: a Keras ReLU
// with max_value 3 or an ONNX Clip(0, 3) is estimated against 3, not 6.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "keras_model.h"
#include "onnx_builder.h"
#include "test_util.h"

namespace {

using namespace cle;
using test::OnnxBuilder;

// gamma and beta of the batch norm before the clip: channel c has N(beta_c, gamma_c^2) inputs.
const std::vector<double> kGamma{1.0, 0.5, 2.0, 1.5};
const std::vector<double> kBeta{2.5, 1.0, 0.0, 3.0};

// The expected share of inputs above `level`, mean and worst over the channels.
std::pair<double, double> above(double level) {
    double mean = 0, worst = 0;
    for (size_t c = 0; c < kGamma.size(); ++c) {
        double p = 0.5 * std::erfc((level - kBeta[c]) / (kGamma[c] * std::sqrt(2.0)));
        mean += p / double(kGamma.size());
        worst = std::max(worst, p);
    }
    return {mean, worst};
}

nlohmann::json relu6Cost(const std::string& in, const std::string& out) {
    auto r = test::runCle({"equalize", in, "-o", out, "--auto", "--allow-relu6", "--quiet",
                           "--report", out + ".json"});
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    std::ifstream f(out + ".json");
    return nlohmann::json::parse(f).at("relu6_cost");
}

void expectLevel(const nlohmann::json& cost, double level) {
    ASSERT_EQ(cost.size(), 1u) << cost.dump();
    EXPECT_DOUBLE_EQ(cost[0].at("level").get<double>(), level);
    auto [mean, worst] = above(level);
    EXPECT_NEAR(cost[0].at("mean_fraction_above_6").get<double>(), mean, 1e-6) << cost.dump();
    EXPECT_NEAR(cost[0].at("worst_fraction_above_6").get<double>(), worst, 1e-6) << cost.dump();
}

TEST(ClipLevel, KerasReluMaxValue) {
    test::TempDir dir;
    for (double level : {3.0, 6.0}) {
        test::KerasModel m;
        m.conv("c1", 3, 4).batchNorm("bn", 4);
        m.values("gamma", kGamma).values("beta", kBeta);
        m.values("moving_mean", {0, 0, 0, 0}).values("moving_variance", {1, 1, 1, 1});
        m.layer("ReLU", "clip", {{"max_value", level}}).conv("c2", 4, 2);
        const auto in = dir.file("m.h5");
        m.write(in);
        expectLevel(relu6Cost(in, dir.file("eq" + std::to_string(int(level)) + ".h5")), level);
    }
}

TEST(ClipLevel, OnnxClipMax) {
    test::TempDir dir;
    OnnxBuilder b;
    b.input("x", {1, 3, 6, 6});
    b.conv("c1", "x", "a", 4, 3, 3, 1);
    std::vector<float> gamma(kGamma.begin(), kGamma.end()), beta(kBeta.begin(), kBeta.end());
    b.init("bn.scale", {4}, gamma);
    b.init("bn.bias", {4}, beta);
    b.init("bn.mean", {4}, std::vector<float>(4, 0.f));
    b.init("bn.var", {4}, std::vector<float>(4, 1.f - 1e-5f));
    b.node("BatchNormalization", "bn", {"a", "bn.scale", "bn.bias", "bn.mean", "bn.var"}, {"n"});
    b.init("lo", {}, {0.f});
    b.init("hi", {}, {3.f});
    b.node("Clip", "clip", {"n", "lo", "hi"}, {"r"});
    b.conv("c2", "r", "y", 2, 4, 1, 2);
    b.output("y");
    const auto in = dir.file("m.onnx");
    b.save(in);
    expectLevel(relu6Cost(in, dir.file("eq.onnx")), 3.0);
}

}  // namespace
