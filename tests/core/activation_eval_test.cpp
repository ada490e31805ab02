// Activations named in Keras configs that the pair finder meets in real models: the evaluator
// computes them, so `equalize --verify` can check a network that uses them.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "cle/core/evaluator.h"
#include "cle/core/model.h"
#include "cli_runner.h"
#include "keras_model.h"
#include "onnx_builder.h"
#include "test_util.h"

namespace {

using namespace cle;

// input [1, 9] -> Activation(fn), compared with `expected` on -4 .. 4.
void expectActivation(const std::string& fn, const std::function<double(double)>& expected) {
    test::TempDir dir;
    test::KerasModel m;
    m.activation("act", fn);
    const auto path = dir.file("m.h5");
    m.write(path);
    core::Network net = core::Network::load(path, core::loadModel(path));
    core::Tensor x{{1, 9}, {}};
    for (int i = 0; i < 9; ++i) x.values.push_back(float(i - 4));
    const auto y = net.run({x}, {})[0];
    ASSERT_EQ(y.values.size(), 9u);
    for (int i = 0; i < 9; ++i)
        EXPECT_NEAR(y.values[size_t(i)], expected(i - 4), 1e-5) << fn << " at " << i - 4;
}

TEST(ActivationEval, KerasThreeActivations) {
    expectActivation("leaky_relu", [](double x) { return x > 0 ? x : 0.2 * x; });
    expectActivation("hard_silu",
                     [](double x) { return x * std::min(6.0, std::max(0.0, x + 3)) / 6; });
    expectActivation("hard_swish",
                     [](double x) { return x * std::min(6.0, std::max(0.0, x + 3)) / 6; });
    expectActivation("mish", [](double x) { return x * std::tanh(std::log1p(std::exp(x))); });
}

// conv -> Activation(leaky_relu) -> conv is a pair; --verify checks it.
TEST(ActivationEval, PairAcrossLeakyReluIsVerified) {
    test::TempDir dir;
    test::KerasModel m;
    m.conv("c1", 3, 8, {{"padding", "same"}}).activation("act", "leaky_relu").conv("c2", 8, 4);
    const auto in = dir.file("m.h5");
    m.write(in);
    auto r = test::runCle({"equalize", in, "-o", dir.file("eq.h5"), "--pairs", "c1,c2", "--quiet",
                           "--verify", "--input-shape", "6,6,3"});
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("function: kept"), std::string::npos) << r.out;
}

}  // namespace

namespace {

// ONNX: x [1, 9, 1, 1] -> 1 x 1 identity Conv -> op, compared with `expected` on -4 .. 4.
void expectOnnxOp(const std::string& op, const std::function<double(double)>& expected) {
    test::TempDir dir;
    test::OnnxBuilder b;
    b.input("x", {1, 9, 1, 1});
    std::vector<float> eye(81, 0.f);
    for (int i = 0; i < 9; ++i) eye[size_t(i * 10)] = 1.f;
    b.init("id.weight", {9, 9, 1, 1}, eye);
    b.node("Conv", "id", {"x", "id.weight"}, {"c"});
    b.node(op, "act", {"c"}, {"y"});
    b.output("y");
    const auto path = dir.file("m.onnx");
    b.save(path);
    core::Network net = core::Network::load(path, core::loadModel(path));
    core::Tensor x{{1, 9, 1, 1}, {}};
    for (int i = 0; i < 9; ++i) x.values.push_back(float(i - 4));
    const auto y = net.run({x}, {})[0];
    ASSERT_EQ(y.values.size(), 9u);
    for (int i = 0; i < 9; ++i)
        EXPECT_NEAR(y.values[size_t(i)], expected(i - 4), 1e-5) << op << " at " << i - 4;
}

TEST(ActivationEval, OnnxElementwiseOps) {
    auto hardSwish = [](double x) { return x * std::min(6.0, std::max(0.0, x + 3)) / 6; };
    expectOnnxOp("HardSwish", hardSwish);
    expectOnnxOp("HardSigmoid",
                 [](double x) { return std::min(1.0, std::max(0.0, 0.2 * x + 0.5)); });
    expectOnnxOp("Elu", [](double x) { return x > 0 ? x : std::exp(x) - 1; });
    expectOnnxOp("Softplus", [](double x) { return std::log1p(std::exp(x)); });
    expectOnnxOp("Softsign", [](double x) { return x / (1 + std::abs(x)); });
}

}  // namespace
