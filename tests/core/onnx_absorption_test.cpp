// High-bias absorption on ONNX models: Conv -> BatchNormalization -> Relu -> Conv moves
// max(0, beta - 3|gamma|) from the first layer's bias into the second's.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "onnx_builder.h"
#include "test_util.h"

namespace {

using namespace cle;
using test::OnnxBuilder;

// conv1 with tiny weights (its pre-activation is about its bias), a batch norm whose beta lies
// far above 3|gamma| in the even channels, an activation `act`, and a 1 x 1 conv2.
void writeModel(const std::string& path, const std::string& act) {
    constexpr int c = 6;
    OnnxBuilder b;
    b.input("x", {1, 3, 6, 6});
    std::vector<float> w(size_t(c * 3 * 9));
    for (size_t i = 0; i < w.size(); ++i) w[i] = 1e-3f * std::sin(float(i));
    b.init("conv1.weight", {c, 3, 3, 3}, w);
    b.init("conv1.bias", {c}, OnnxBuilder::random(c, 5, -0.1f, 0.1f));
    auto& conv = b.node("Conv", "conv1", {"x", "conv1.weight", "conv1.bias"}, {"c1"});
    OnnxBuilder::attr(conv, "pads", std::vector<std::int64_t>{1, 1, 1, 1});
    std::vector<float> gamma, beta;
    for (int k = 0; k < c; ++k) {
        gamma.push_back(0.1f + 0.05f * float(k));
        beta.push_back(k % 2 ? -0.5f : 2.f + float(k));
    }
    b.init("bn.scale", {c}, gamma);
    b.init("bn.bias", {c}, beta);
    b.init("bn.mean", {c}, std::vector<float>(c, 0.f));
    b.init("bn.var", {c}, std::vector<float>(c, 1.f));
    b.node("BatchNormalization", "bn", {"c1", "bn.scale", "bn.bias", "bn.mean", "bn.var"}, {"n"});
    b.node(act, "act", {"n"}, {"r"});
    b.conv("conv2", "r", "y", 4, c, 1, 7);
    b.output("y");
    b.save(path);
}

nlohmann::json absorbed(const std::string& in, const std::string& out) {
    const std::string report = out + ".json";
    auto r = test::runCle(
        {"equalize", in, "-o", out, "--auto", "--quiet", "--absorb-bias", "--report", report});
    EXPECT_EQ(r.code, 0) << r.err;
    std::ifstream f(report);
    return nlohmann::json::parse(f).at("absorbed_bias");
}

TEST(OnnxAbsorption, MovesTheBiasAcrossBatchNormAndRelu) {
    test::TempDir dir;
    const auto in = dir.file("m.onnx"), out = dir.file("eq.onnx");
    writeModel(in, "Relu");
    auto a = absorbed(in, out);
    ASSERT_EQ(a.size(), 1u) << a.dump();
    EXPECT_EQ(a[0]["first"], "conv1");
    EXPECT_EQ(a[0]["second"], "conv2");
    EXPECT_EQ(a[0]["channels"], 3) << a.dump();  // the even channels
    // The pre-activation stays far above c: the function is kept.
    auto v = test::runCle({"verify", in, out});
    EXPECT_EQ(v.code, 0) << v.out << v.err;
    EXPECT_NE(v.out.find("function: kept"), std::string::npos) << v.out;
}

TEST(OnnxAbsorption, NeedsAReluAfterTheBatchNorm) {
    test::TempDir dir;
    const auto in = dir.file("m.onnx"), out = dir.file("eq.onnx");
    writeModel(in, "LeakyRelu");  // not zero below 0: nothing can be absorbed
    EXPECT_TRUE(absorbed(in, out).empty());
}

}  // namespace
