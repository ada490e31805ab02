// Activations named in Keras configs that the pair finder meets in real models: the evaluator
// computes them, so `equalize --verify` can check a network that uses them.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "cle/core/evaluator.h"
#include "cle/core/model.h"
#include "cli_runner.h"
#include "keras_model.h"
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
