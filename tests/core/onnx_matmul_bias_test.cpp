// Dense layers written as MatMul followed by an Add of a stored bias vector (PyTorch's Linear on
// inputs of rank 3 or more, tf2onnx's Dense): the Add's tensor is the layer's bias, pairs walk
// through it, equalization scales it and the export writes it in its own type.
#include <gtest/gtest.h>
#include <onnx/checker.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "cle/core/evaluator.h"
#include "cle/core/model.h"
#include "cle/core/topology.h"
#include "cli_runner.h"
#include "onnx_builder.h"
#include "test_util.h"

namespace {

using namespace cle;
using test::OnnxBuilder;

constexpr std::int64_t kIn = 16, kHidden = 32, kOut = 8;

// Weights whose output channels span very different ranges, so that equalization moves them.
std::vector<float> unevenWeights(std::int64_t in, std::int64_t out, unsigned seed) {
    auto w = OnnxBuilder::random(size_t(in * out), seed);
    for (std::int64_t i = 0; i < in; ++i)
        for (std::int64_t o = 0; o < out; ++o)
            w[size_t(i * out + o)] *= std::pow(3.f, float(o % 6));
    return w;
}

struct Dense {
    std::vector<float> w1, b1, w2, b2;
};

// x [1, 4, 16] -> MatMul fc1 -> Add b1 -> Relu -> MatMul fc2 -> Add b2 -> y, the biases of shape
// `biasDims` (the last axis holding the channels), in float16 when `half`.
Dense writeDense(const std::string& path, std::vector<std::int64_t> biasDims = {},
                 bool half = false) {
    Dense d{unevenWeights(kIn, kHidden, 1), OnnxBuilder::random(kHidden, 2, 0.2f, 1.f),
            OnnxBuilder::random(size_t(kHidden * kOut), 3), OnnxBuilder::random(kOut, 4)};
    if (half)  // the values the file holds
        for (auto* v : {&d.b1, &d.b2})
            for (float& x : *v) x = float(Eigen::half(x));
    auto dims = [&](std::int64_t n) {
        if (biasDims.empty()) return std::vector<std::int64_t>{n};
        auto out = biasDims;
        out.back() = n;
        return out;
    };
    OnnxBuilder b;
    b.input("x", {1, 4, kIn});
    b.init("fc1.weight", {kIn, kHidden}, d.w1);
    b.init("fc1.bias", dims(kHidden), d.b1, half);
    b.init("fc2.weight", {kHidden, kOut}, d.w2);
    b.init("fc2.bias", dims(kOut), d.b2, half);
    b.node("MatMul", "fc1", {"x", "fc1.weight"}, {"m1"});
    b.node("Add", "add1", {"m1", "fc1.bias"}, {"a1"});
    b.node("Relu", "relu", {"a1"}, {"r1"});
    b.node("MatMul", "fc2", {"r1", "fc2.weight"}, {"m2"});
    b.node("Add", "add2", {"fc2.bias", "m2"}, {"y"});  // the bias first: either order is an Add
    b.output("y");
    b.save(path);
    return d;
}

core::Tensor sampleInput() {
    return core::Tensor{{3, 4, kIn}, OnnxBuilder::random(size_t(3 * 4 * kIn), 9, -2.f, 2.f)};
}

// relu(x W1 + b1) W2 + b2 over the last axis, in double.
std::vector<double> reference(const Dense& d, const core::Tensor& x) {
    const size_t rows = x.values.size() / kIn;
    std::vector<double> y(rows * kOut);
    for (size_t r = 0; r < rows; ++r) {
        std::vector<double> h(kHidden);
        for (std::int64_t o = 0; o < kHidden; ++o) {
            double s = d.b1[size_t(o)];
            for (std::int64_t i = 0; i < kIn; ++i)
                s += double(x.values[r * kIn + size_t(i)]) * d.w1[size_t(i * kHidden + o)];
            h[size_t(o)] = std::max(0.0, s);
        }
        for (std::int64_t o = 0; o < kOut; ++o) {
            double s = d.b2[size_t(o)];
            for (std::int64_t i = 0; i < kHidden; ++i)
                s += h[size_t(i)] * d.w2[size_t(i * kOut + o)];
            y[r * kOut + size_t(o)] = s;
        }
    }
    return y;
}

std::vector<float> forward(const std::string& path) {
    auto model = core::loadModel(path);
    auto outs = core::Network::load(path, model).run({sampleInput()}, {});
    EXPECT_EQ(outs.size(), 1u);
    return outs.empty() ? std::vector<float>{} : outs[0].values;
}

double maxRelativeError(const std::vector<float>& got, const std::vector<double>& want) {
    double scale = 0, err = 0;
    for (size_t i = 0; i < want.size(); ++i) {
        scale = std::max(scale, std::abs(want[i]));
        err = std::max(err, std::abs(want[i] - double(got.at(i))));
    }
    return err / scale;
}

std::map<std::string, std::string> rejections(const std::string& path) {
    auto plan = core::Topology::build(core::inspectFile(path)).suggest(true);
    std::map<std::string, std::string> why;
    for (const auto& r : plan.rejected) why[r.layers[0] + ">" + r.layers[1]] = r.reason;
    return why;
}

TEST(OnnxMatMulBias, TheAddedVectorIsTheBiasAndThePairIsFound) {
    test::TempDir dir;
    const auto in = dir.file("m.onnx");
    const Dense d = writeDense(in);
    auto info = core::inspectFile(in);
    ASSERT_EQ(info.layers.size(), 2u);
    EXPECT_EQ(info.layers[0].biasPath, "fc1.bias");
    EXPECT_EQ(info.layers[1].biasPath, "fc2.bias");
    EXPECT_EQ(info.layers[0].biasSize, kHidden);
    auto plan = core::Topology::build(info).suggest(false);
    ASSERT_EQ(plan.suggested.size(), 1u) << (plan.rejected.empty() ? "" : plan.rejected[0].reason);
    EXPECT_EQ(plan.suggested[0].layers, (std::vector<std::string>{"fc1", "fc2"}));
    // The evaluator adds each bias once.
    auto x = sampleInput();
    EXPECT_LT(maxRelativeError(forward(in), reference(d, x)), 1e-5);
}

class OnnxMatMulBiasExport
    : public ::testing::TestWithParam<std::pair<std::vector<std::int64_t>, bool>> {};

TEST_P(OnnxMatMulBiasExport, EqualizationScalesTheBiasAndKeepsTheFunction) {
    const auto& [biasDims, half] = GetParam();
    test::TempDir dir;
    const auto in = dir.file("m.onnx"), out = dir.file("eq.onnx");
    const Dense d = writeDense(in, biasDims, half);
    auto r = test::runCle({"equalize", in, "-o", out, "--auto", "--verify"});
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_NE((r.out + r.err).find("function: kept"), std::string::npos) << r.out << r.err;
    auto v = test::runCle({"verify", in, out});
    EXPECT_EQ(v.code, 0) << v.out << v.err;
    EXPECT_NE(v.out.find("function: kept"), std::string::npos) << v.out;
    EXPECT_NO_THROW(onnx::checker::check_model(out));

    // Only the initializers changed, each in its own type and shape.
    auto a = test::readOnnx(in), c = test::readOnnx(out);
    ASSERT_EQ(a.graph().node_size(), c.graph().node_size());
    for (int i = 0; i < a.graph().node_size(); ++i)
        EXPECT_EQ(a.graph().node(i).SerializeAsString(), c.graph().node(i).SerializeAsString());
    for (int i = 0; i < a.graph().initializer_size(); ++i) {
        EXPECT_EQ(a.graph().initializer(i).data_type(), c.graph().initializer(i).data_type());
        EXPECT_EQ(a.graph().initializer(i).dims_size(), c.graph().initializer(i).dims_size());
    }
    // W1's column c and b1[c] are divided by the same scale.
    auto w1 = core::readDataset(out, "fc1.weight"), b1 = core::readDataset(out, "fc1.bias");
    ASSERT_EQ(b1.values.size(), size_t(kHidden));
    std::vector<std::int64_t> wantShape =
        biasDims.empty() ? std::vector<std::int64_t>{0} : biasDims;
    wantShape.back() = kHidden;
    EXPECT_EQ(b1.shape, wantShape);
    double moved = 0;
    for (std::int64_t o = 0; o < kHidden; ++o) {
        const double scale = double(w1.values[size_t(o)]) / d.w1[size_t(o)];
        moved = std::max(moved, std::abs(std::log(scale)));
        EXPECT_NEAR(b1.values[size_t(o)] / d.b1[size_t(o)], scale, (half ? 2e-3 : 1e-5) * scale)
            << "channel " << o;
    }
    EXPECT_GT(moved, 0.5);  // the bias really was scaled

    // A forward pass of the copy is the original's.
    auto x = sampleInput();
    EXPECT_LT(maxRelativeError(forward(out), reference(d, x)), half ? 2e-3 : 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Shapes, OnnxMatMulBiasExport,
                         ::testing::Values(std::pair{std::vector<std::int64_t>{}, false},
                                           std::pair{std::vector<std::int64_t>{1, 0}, false},
                                           std::pair{std::vector<std::int64_t>{1, 1, 0}, false},
                                           std::pair{std::vector<std::int64_t>{}, true}));

TEST(OnnxMatMulBias, ASharedBiasKeepsTheLayerOutOfFirstPlace) {
    test::TempDir dir;
    const auto in = dir.file("m.onnx");
    OnnxBuilder b;
    b.input("x", {1, 4, kHidden});
    b.init("fc1.weight", {kHidden, kHidden}, unevenWeights(kHidden, kHidden, 1));
    b.init("fc2.weight", {kHidden, kHidden}, unevenWeights(kHidden, kHidden, 2));
    b.init("bias", {kHidden}, OnnxBuilder::random(kHidden, 3));  // one tensor for both Adds
    b.node("MatMul", "fc1", {"x", "fc1.weight"}, {"m1"});
    b.node("Add", "add1", {"m1", "bias"}, {"a1"});
    b.node("Relu", "relu", {"a1"}, {"r1"});
    b.node("MatMul", "fc2", {"r1", "fc2.weight"}, {"m2"});
    b.node("Add", "add2", {"m2", "bias"}, {"y"});
    b.output("y");
    b.save(in);
    auto info = core::inspectFile(in);
    ASSERT_EQ(info.layers.size(), 2u);
    EXPECT_FALSE(info.layers[0].hasBias());
    EXPECT_TRUE(info.layers[0].supported);  // it can still be the second layer of a pair
    auto why = rejections(in);
    EXPECT_EQ(why["fc1>fc2"],
              "layer 'fc1' cannot be the first of a pair: Add 'add1' adds tensor 'bias' as its "
              "bias, but node 'add2' reads that tensor too (shared storage): scaling the bias "
              "would change it there as well");
}

// x [1, 4, 16] -> MatMul fc1 -> Add(m1, "shift") -> Relu -> MatMul fc2 -> y; the caller provides
// "shift".
void shiftedChain(OnnxBuilder& b) {
    b.input("x", {1, 4, kIn});
    b.init("fc1.weight", {kIn, kHidden}, unevenWeights(kIn, kHidden, 1));
    b.init("fc2.weight", {kHidden, kOut}, OnnxBuilder::random(size_t(kHidden * kOut), 3));
    b.node("MatMul", "fc1", {"x", "fc1.weight"}, {"m1"});
    b.node("Add", "add1", {"m1", "shift"}, {"a1"});
    b.node("Relu", "relu", {"a1"}, {"r1"});
    b.node("MatMul", "fc2", {"r1", "fc2.weight"}, {"y"});
    b.output("y");
}

TEST(OnnxMatMulBias, AConstantNotPerChannelIsNotABias) {
    test::TempDir dir;
    const auto in = dir.file("m.onnx");
    OnnxBuilder b;
    b.init("shift", {4, kHidden}, OnnxBuilder::random(size_t(4 * kHidden), 2));
    shiftedChain(b);
    b.save(in);
    EXPECT_FALSE(core::inspectFile(in).layers[0].hasBias());
    EXPECT_EQ(rejections(in)["fc1>fc2"],
              "layer 'fc1' cannot be the first of a pair: Add 'add1' adds tensor 'shift' of "
              "shape [4, 32] to its output, not one value per output channel (a bias of shape "
              "[32])");
}

// A Constant node may hold its value as a list of floats rather than a tensor: the Add is then no
// bias the export could rewrite, and no branch joining the path either.
TEST(OnnxMatMulBias, AConstantOfPlainFloatsIsNamedAsSuch) {
    test::TempDir dir;
    const auto in = dir.file("m.onnx");
    OnnxBuilder b;
    auto& c = b.node("Constant", "shift_node", {}, {"shift"});
    auto* a = c.add_attribute();
    a->set_name("value_floats");
    a->set_type(onnx::AttributeProto::FLOATS);
    for (float v : OnnxBuilder::random(kHidden, 2)) a->add_floats(v);
    shiftedChain(b);
    b.save(in);
    EXPECT_FALSE(core::inspectFile(in).layers[0].hasBias());
    EXPECT_EQ(rejections(in)["fc1>fc2"],
              "layer 'fc1' cannot be the first of a pair: Add 'add1' adds the output of Constant "
              "node 'shift_node', which holds no tensor (value_float or value_floats) that could "
              "be scaled as its bias");
}

// Before opset 7, Add(m, b) with broadcast=1 and axis=1 adds b[i] to row i of m [1, 32, 32]: the
// vector runs along the rows, not the output channels, and scaling it would change the function.
TEST(OnnxMatMulBias, ALegacyBroadcastAlongAnAxisIsNotABias) {
    test::TempDir dir;
    const auto in = dir.file("m.onnx");
    OnnxBuilder b(6);
    b.model().set_ir_version(3);
    b.input("x", {1, kHidden, kIn});
    b.input("fc1.weight", {kIn, kHidden});  // before IR 4 initializers are graph inputs too
    b.input("fc1.bias", {kHidden});
    b.input("fc2.weight", {kHidden, kOut});
    b.init("fc1.weight", {kIn, kHidden}, unevenWeights(kIn, kHidden, 1));
    b.init("fc1.bias", {kHidden}, OnnxBuilder::random(kHidden, 2, 0.2f, 1.f));
    b.init("fc2.weight", {kHidden, kOut}, OnnxBuilder::random(size_t(kHidden * kOut), 3));
    b.node("MatMul", "fc1", {"x", "fc1.weight"}, {"m1"});
    auto& add = b.node("Add", "add1", {"m1", "fc1.bias"}, {"a1"});
    OnnxBuilder::attr(add, "broadcast", std::int64_t(1));
    OnnxBuilder::attr(add, "axis", std::int64_t(1));
    b.node("Relu", "relu", {"a1"}, {"r1"});
    b.node("MatMul", "fc2", {"r1", "fc2.weight"}, {"y"});
    b.output("y");
    b.save(in);
    EXPECT_FALSE(core::inspectFile(in).layers[0].hasBias());
    EXPECT_EQ(rejections(in)["fc1>fc2"],
              "layer 'fc1' cannot be the first of a pair: Add 'add1' adds tensor 'fc1.bias' "
              "along axis 1 (the broadcast of opsets before 7), not along the output channels");
    // The evaluator, which broadcasts from the last axis, refuses it rather than misread it.
    auto v = test::runCle({"verify", in, in});
    EXPECT_NE(v.code, 0);
    EXPECT_NE(v.err.find("broadcasting along an axis (opsets before 7) is not supported"),
              std::string::npos)
        << v.out << v.err;
}

// fc1 -> Add b1 -> Relu -> fc2 -> Add with the Relu's output (a residual) -> Relu -> fc3.
struct Residual {
    std::vector<float> w1, b1, w2, w3;
};

Residual writeResidual(const std::string& path) {
    Residual d{unevenWeights(kIn, kHidden, 1), OnnxBuilder::random(kHidden, 2),
               unevenWeights(kHidden, kHidden, 3), OnnxBuilder::random(size_t(kHidden * kOut), 4)};
    OnnxBuilder b;
    b.input("x", {1, 4, kIn});
    b.init("fc1.weight", {kIn, kHidden}, d.w1);
    b.init("fc1.bias", {kHidden}, d.b1);
    b.init("fc2.weight", {kHidden, kHidden}, d.w2);
    b.init("fc3.weight", {kHidden, kOut}, d.w3);
    b.node("MatMul", "fc1", {"x", "fc1.weight"}, {"m1"});
    b.node("Add", "add1", {"m1", "fc1.bias"}, {"a1"});
    b.node("Relu", "relu1", {"a1"}, {"r1"});
    b.node("MatMul", "fc2", {"r1", "fc2.weight"}, {"m2"});
    b.node("Add", "res", {"m2", "r1"}, {"s"});
    b.node("Relu", "relu2", {"s"}, {"r2"});
    b.node("MatMul", "fc3", {"r2", "fc3.weight"}, {"y"});
    b.output("y");
    b.save(path);
    return d;
}

TEST(OnnxMatMulBias, AResidualAddIsNotABias) {
    test::TempDir dir;
    const auto in = dir.file("m.onnx");
    const Residual d = writeResidual(in);
    const auto &w1 = d.w1, &b1 = d.b1, &w2 = d.w2, &w3 = d.w3;
    auto info = core::inspectFile(in);
    ASSERT_EQ(info.layers.size(), 3u);
    EXPECT_EQ(info.layers[0].biasPath, "fc1.bias");
    EXPECT_FALSE(info.layers[1].hasBias());
    EXPECT_TRUE(info.layers[1].supported);
    auto why = rejections(in);
    EXPECT_EQ(why["fc2>fc3"].rfind("residual Add 'res' joins another branch to the path", 0), 0u)
        << why["fc2>fc3"];
    // The evaluator adds the bias once and the residual as it is.
    auto x = sampleInput();
    auto model = core::loadModel(in);
    auto outs = core::Network::load(in, model).run({x}, {});
    ASSERT_EQ(outs.size(), 1u);
    const size_t rows = x.values.size() / kIn;
    std::vector<double> want(rows * kOut);
    for (size_t r = 0; r < rows; ++r) {
        std::vector<double> h(kHidden), s(kHidden);
        for (std::int64_t o = 0; o < kHidden; ++o) {
            double v = b1[size_t(o)];
            for (std::int64_t i = 0; i < kIn; ++i)
                v += double(x.values[r * kIn + size_t(i)]) * w1[size_t(i * kHidden + o)];
            h[size_t(o)] = std::max(0.0, v);
        }
        for (std::int64_t o = 0; o < kHidden; ++o) {
            double v = h[size_t(o)];
            for (std::int64_t i = 0; i < kHidden; ++i)
                v += h[size_t(i)] * w2[size_t(i * kHidden + o)];
            s[size_t(o)] = std::max(0.0, v);
        }
        for (std::int64_t o = 0; o < kOut; ++o)
            for (std::int64_t i = 0; i < kHidden; ++i)
                want[r * kOut + size_t(o)] += s[size_t(i)] * w3[size_t(i * kOut + o)];
    }
    EXPECT_LT(maxRelativeError(outs[0].values, want), 1e-5);
}

// The residual block is a region whose sources are fc1 (through its bias Add) and fc2.
TEST(OnnxMatMulBias, ARegionScalesTheBiasOfAMatMulSource) {
    test::TempDir dir;
    const auto in = dir.file("m.onnx"), out = dir.file("eq.onnx");
    const Residual d = writeResidual(in);
    auto plan = core::Topology::build(core::inspectFile(in)).suggest(false);
    ASSERT_EQ(plan.regions.size(), 1u)
        << (plan.rejectedRegions.empty() ? "" : plan.rejectedRegions[0].reason);
    EXPECT_EQ(plan.regions[0].region.sources, (std::vector<std::string>{"fc1", "fc2"}));
    EXPECT_EQ(plan.regions[0].region.sinks, (std::vector<std::string>{"fc2", "fc3"}));
    auto r = test::runCle({"equalize", in, "-o", out, "--auto", "--verify"});
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    auto v = test::runCle({"verify", in, out});
    EXPECT_NE(v.out.find("function: kept"), std::string::npos) << v.out;
    auto b1 = core::readDataset(out, "fc1.bias");
    double moved = 0;
    for (size_t o = 0; o < b1.values.size(); ++o)
        moved = std::max(moved, std::abs(std::log(double(b1.values[o]) / d.b1[o])));
    EXPECT_GT(moved, 0.5);
}

}  // namespace
