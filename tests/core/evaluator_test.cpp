// The evaluator against outputs computed independently (PyTorch, float64, by
// tests/golden_eval/make_golden.py), one small network per family of layers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "cle/core/error.h"
#include "cle/core/evaluator.h"
#include "cle/core/model.h"
#include "keras_model.h"
#include "test_util.h"

namespace cle::core {
namespace {

using nlohmann::json;

struct Golden {
    Network net;
    Tensor inputs, expected;
};

Golden golden(const std::string& name) {
    const std::string model = test::dataPath("eval/" + name + ".h5");
    const std::string io = test::dataPath("eval/" + name + "_io.h5");
    return {Network::load(model, loadModel(model)), readDataset(io, "/inputs"),
            readDataset(io, "/expected")};
}

// The largest |a - b| relative to the largest |b|.
double relativeError(const Tensor& a, const Tensor& b) {
    EXPECT_EQ(a.shape, b.shape);
    double err = 0, scale = 0;
    for (size_t i = 0; i < a.values.size() && i < b.values.size(); ++i) {
        err = std::max(err, double(std::abs(a.values[i] - b.values[i])));
        scale = std::max(scale, double(std::abs(b.values[i])));
    }
    return err / scale;
}

class GoldenCase : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenCase, MatchesTheIndependentForwardPass) {
    Golden g = golden(GetParam());
    auto out = g.net.run({g.inputs}, {});
    ASSERT_EQ(out.size(), 1u);
    EXPECT_LT(relativeError(out[0], g.expected), 1e-5) << GetParam();
}

TEST_P(GoldenCase, GivesTheSameResultWhateverTheThreadCount) {
    Golden g = golden(GetParam());
    RunOptions one, three;
    one.threads = 1;
    three.threads = 3;
    EXPECT_EQ(g.net.run({g.inputs}, one)[0].values, g.net.run({g.inputs}, three)[0].values);
}

INSTANTIATE_TEST_SUITE_P(Layers, GoldenCase,
                         ::testing::Values("conv", "conv1d", "depthwise", "pooling", "activations",
                                           "merges", "nested"));

TEST(Evaluator, TheBundledSampleMatchesTheIndependentForwardPass) {
    const std::string sample = test::samplePath("tiny_face_detector_keras.h5");
    const std::string io = test::dataPath("eval/tiny_face_io.h5");
    Network net = Network::load(sample, loadModel(sample));
    auto out = net.run({readDataset(io, "/inputs")}, {});
    EXPECT_LT(relativeError(out[0], readDataset(io, "/expected")), 1e-5);
}

TEST(Evaluator, SeveralInputsAndSequentialModels) {
    test::TempDir dir;
    test::KerasModel m;
    m.layer("InputLayer", "other", {{"batch_input_shape", {nullptr, 3, 3, 2}}}, test::Names{});
    m.layer("Add", "sum", json::object(), test::Names{"input", "other"});
    m.conv("c", 2, 3, {{"padding", "same"}});
    m.write(dir.file("two.h5"));
    Network two = Network::load(dir.file("two.h5"), loadModel(dir.file("two.h5")));
    ASSERT_EQ(two.inputs().size(), 2u);
    EXPECT_EQ(two.inputs()[1].name, "other");
    EXPECT_EQ(two.inputs()[1].shape, (std::vector<std::int64_t>{3, 3, 2}));
    Tensor a{{1, 3, 3, 2}, std::vector<float>(18, 0.25f)}, b{{1, 3, 3, 2}, std::vector<float>(18)};
    for (size_t i = 0; i < 18; ++i) b.values[i] = float(i) / 9.f - 1.f;
    Tensor sum = a;
    for (size_t i = 0; i < 18; ++i) sum.values[i] += b.values[i];

    test::KerasModel chain;  // the same convolution alone, as a Sequential model
    chain.conv("c", 2, 3, {{"padding", "same"}});
    chain.write(dir.file("seq.h5"), test::KerasModel::Style::Sequential);
    Network seq = Network::load(dir.file("seq.h5"), loadModel(dir.file("seq.h5")));
    EXPECT_EQ(two.run({a, b}, {})[0].values, seq.run({sum}, {})[0].values);
    EXPECT_THROW(two.run({a}, {}), Error);
}

TEST(Evaluator, FoldingBatchNormsKeepsTheFunction) {
    Golden g = golden("depthwise");
    RunOptions folded;
    folded.foldBatchNorms = true;
    EXPECT_LT(relativeError(g.net.run({g.inputs}, folded)[0], g.expected), 1e-5);
}

TEST(Evaluator, QuantizedWeightsChangeTheOutputPerChannelLessThanPerTensor) {
    Golden g = golden("conv");
    RunOptions tensor, channel;
    tensor.weights = WeightQuantization::PerTensor;
    channel.weights = WeightQuantization::PerChannel;
    tensor.beforeSoftmax = channel.beforeSoftmax = true;
    RunOptions plain;
    plain.beforeSoftmax = true;
    Tensor ref = g.net.run({g.inputs}, plain)[0];
    double t = relativeError(g.net.run({g.inputs}, tensor)[0], ref);
    double c = relativeError(g.net.run({g.inputs}, channel)[0], ref);
    EXPECT_GT(t, 1e-5);
    EXPECT_LT(t, 0.1);
    EXPECT_GT(c, 0);
    EXPECT_LE(c, t * 1.5);
}

TEST(Evaluator, CalibratedActivationRoundingStaysCloseToFloat) {
    Golden g = golden("conv");
    RunOptions o;
    o.beforeSoftmax = true;
    ActivationRanges r = g.net.calibrate({g.inputs}, o);
    ASSERT_FALSE(r.lo.empty());
    size_t calibrated = 0;
    for (size_t i = 0; i < r.lo.size(); ++i) calibrated += r.lo[i] <= r.hi[i];
    EXPECT_EQ(calibrated, 6u);  // five convolutions and a Dense layer
    Tensor ref = g.net.run({g.inputs}, o)[0];
    o.activations = &r;
    double err = relativeError(g.net.run({g.inputs}, o)[0], ref);
    EXPECT_GT(err, 1e-5);
    EXPECT_LT(err, 0.1);
    o.threads = 1;
    Tensor one = g.net.run({g.inputs}, o)[0];
    o.threads = 3;
    EXPECT_EQ(one.values, g.net.run({g.inputs}, o)[0].values);
}

TEST(Evaluator, BeforeSoftmaxReturnsTheLogits) {
    Golden g = golden("conv");
    EXPECT_TRUE(g.net.endsInSoftmax());
    RunOptions logits;
    logits.beforeSoftmax = true;
    Tensor z = g.net.run({g.inputs}, logits)[0];
    double sum = 0;
    for (long k = 0; k < 4; ++k) sum += z.values[size_t(k)];
    EXPECT_GT(std::abs(sum - 1.0), 1e-3);  // not probabilities
    EXPECT_FALSE(golden("pooling").net.endsInSoftmax());
}

TEST(Evaluator, ReportsTheShapeOfEachInput) {
    Golden g = golden("conv");
    ASSERT_EQ(g.net.inputs().size(), 1u);
    EXPECT_EQ(g.net.inputs()[0].name, "input");
    EXPECT_EQ(g.net.inputs()[0].shape, (std::vector<std::int64_t>{9, 11, 4}));
    Tensor wrong{{2, 9, 10, 4}, std::vector<float>(2 * 9 * 10 * 4, 0.f)};
    EXPECT_THROW(g.net.run({wrong}, {}), Error);
}

TEST(Evaluator, RefusesAnUnsupportedLayerNamingItAndItsClass) {
    test::TempDir dir;
    test::KerasModel m;
    m.conv("c1", 2, 3, {{"padding", "same"}});
    m.layer("LayerNormalization", "ln");
    m.write(dir.file("m.h5"));
    try {
        Network::load(dir.file("m.h5"), loadModel(dir.file("m.h5")));
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("'ln'"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("LayerNormalization"), std::string::npos);
    }
}

TEST(Evaluator, RefusesAFileWithoutALayerGraph) {
    const std::string torch = test::samplePath("tiny_face_detector_torch.h5");
    EXPECT_THROW(Network::load(torch, loadModel(torch)), Error);
}

TEST(Evaluator, IdentityNormsAndRelaxedRelu6ChangeTheGraph) {
    Golden g = golden("depthwise");
    const std::string path = test::dataPath("eval/depthwise.h5");
    Model model = loadModel(path);
    Network relaxed = Network::load(path, model, {{}, {"r6", "act"}});
    Network noNorms = Network::load(path, model, {{"dw_bn", "sep_bn"}, {}});
    double r = relativeError(relaxed.run({g.inputs}, {})[0], g.expected);
    double n = relativeError(noNorms.run({g.inputs}, {})[0], g.expected);
    EXPECT_GT(n, 1e-3);
    EXPECT_GE(r, 0.0);
}

}  // namespace
}  // namespace cle::core
