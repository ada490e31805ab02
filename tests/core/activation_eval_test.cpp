// Activations named in Keras configs that the pair finder meets in real models: the evaluator
// computes them, so `equalize --verify` can check a network that uses them.
#include <gtest/gtest.h>
#include <hdf5.h>

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

// input [1, 9] -> Activation(fn), compared with `expected` on -4 .. 4; `version` is the file's
// keras_version ("": none).
void expectActivation(const std::string& fn, const std::function<double(double)>& expected,
                      const std::string& version = "") {
    test::TempDir dir;
    test::KerasModel m;
    m.activation("act", fn);
    const auto path = dir.file("m.h5");
    m.write(path);
    if (!version.empty()) {
        hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
        hid_t type = H5Tcopy(H5T_C_S1);
        H5Tset_size(type, version.size());
        hid_t space = H5Screate(H5S_SCALAR);
        hid_t attr = H5Acreate2(file, "keras_version", type, space, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(attr, type, version.c_str());
        H5Aclose(attr);
        H5Sclose(space);
        H5Tclose(type);
        H5Fclose(file);
    }
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

// hard_sigmoid changed its formula in Keras 3; the file's keras_version says which it is.
TEST(ActivationEval, HardSigmoidFollowsTheKerasVersion) {
    auto keras2 = [](double x) { return std::min(1.0, std::max(0.0, 0.2 * x + 0.5)); };
    auto keras3 = [](double x) { return std::min(6.0, std::max(0.0, x + 3)) / 6; };
    expectActivation("hard_sigmoid", keras2);
    expectActivation("hard_sigmoid", keras2, "2.15.0");
    expectActivation("hard_sigmoid", keras3, "3.3.3");
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
void expectOnnxOp(const std::string& op, const std::function<double(double)>& expected,
                  float alpha = 0) {
    test::TempDir dir;
    test::OnnxBuilder b;
    b.input("x", {1, 9, 1, 1});
    std::vector<float> eye(81, 0.f);
    for (int i = 0; i < 9; ++i) eye[size_t(i * 10)] = 1.f;
    b.init("id.weight", {9, 9, 1, 1}, eye);
    b.node("Conv", "id", {"x", "id.weight"}, {"c"});
    auto& node = b.node(op, "act", {"c"}, {"y"});
    if (alpha != 0) test::OnnxBuilder::attr(node, "alpha", alpha);
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
    // PyTorch's Hardsigmoid
    expectOnnxOp(
        "HardSigmoid", [](double x) { return std::min(6.0, std::max(0.0, x + 3)) / 6; }, 1.f / 6);
    expectOnnxOp("Elu", [](double x) { return x > 0 ? x : std::exp(x) - 1; });
    expectOnnxOp("Softplus", [](double x) { return std::log1p(std::exp(x)); });
    expectOnnxOp("Softsign", [](double x) { return x / (1 + std::abs(x)); });
}

}  // namespace
