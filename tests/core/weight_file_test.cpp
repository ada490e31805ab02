// Layer discovery in every supported file layout, and dtype handling.
#include <gtest/gtest.h>

#include "cle/core/equalizer.h"
#include "cle/core/error.h"
#include "cle/core/weight_file.h"
#include "test_util.h"

using namespace cle;

namespace {

std::vector<std::string> names(const core::ModelInfo& m) {
    std::vector<std::string> n;
    for (const auto& l : m.layers) n.push_back(l.name);
    return n;
}

TEST(WeightFile, TinyFaceDetectorKeras) {
    auto info = core::inspectFile(test::samplePath("tiny_face_detector_keras.h5"));
    EXPECT_EQ(info.format, core::Format::Keras2);
    EXPECT_EQ(info.layout, core::Layout::Keras);
    ASSERT_EQ(info.layers.size(), 12u);
    EXPECT_EQ(info.layers[0].name, "conv0");
    EXPECT_EQ(info.layers[0].kind, "Conv2D");
    EXPECT_EQ(info.layers[0].shape, (std::vector<std::int64_t>{3, 3, 3, 16}));
    EXPECT_EQ(info.layers[0].outChannels(), 16);
    EXPECT_EQ(info.layers[0].inChannels(), 3);
    const auto* dw = info.find("conv1/depthwise");
    ASSERT_NE(dw, nullptr);
    EXPECT_TRUE(dw->depthwise);
    EXPECT_FALSE(dw->hasBias());
    EXPECT_EQ(dw->inChannels(), 16);
    const auto* pw = info.find("conv1/pointwise");
    ASSERT_NE(pw, nullptr);
    EXPECT_TRUE(pw->hasBias());  // a separable convolution's bias belongs to its pointwise half
    EXPECT_EQ(info.layers.back().name, "conv8");
}

TEST(WeightFile, TinyFaceDetectorTorch) {
    auto info = core::inspectFile(test::samplePath("tiny_face_detector_torch.h5"));
    EXPECT_EQ(info.format, core::Format::PyTorch);
    EXPECT_EQ(info.layout, core::Layout::Torch);
    ASSERT_EQ(info.layers.size(), 12u);
    EXPECT_EQ(names(info)[1], "conv1.depthwise");
    EXPECT_EQ(info.find("conv8")->kind, "Conv2d");
    EXPECT_EQ(info.find("conv8")->inChannels(), 512);
}

// Keras [kh, kw, in, out] vs PyTorch [out, in, kh, kw]: value at (o, i, y, x).
float kerasAt(const core::Tensor& t, long o, long i, long y, long x) {
    auto s = t.shape;
    return t.values[size_t(((y * s[1] + x) * s[2] + i) * s[3] + o)];
}
float torchAt(const core::Tensor& t, long o, long i, long y, long x) {
    auto s = t.shape;
    return t.values[size_t(((o * s[1] + i) * s[2] + y) * s[3] + x)];
}

TEST(WeightFile, SamePairInBothLayoutsGivesTheSameNumbers) {
    auto keras = core::loadModel(test::samplePath("tiny_face_detector_keras.h5"));
    auto torch = core::loadModel(test::samplePath("tiny_face_detector_torch.h5"));
    auto rk = core::equalize(keras,
                             core::expandGroups({{"conv0", "conv1/depthwise", "conv1/pointwise"}}));
    auto rt = core::equalize(torch,
                             core::expandGroups({{"conv0", "conv1.depthwise", "conv1.pointwise"}}));
    EXPECT_EQ(rk.summary.sweeps, rt.summary.sweeps);
    EXPECT_EQ(rk.summary.deltas, rt.summary.deltas);
    ASSERT_EQ(rk.layers.size(), 3u);
    for (size_t k = 0; k < 3; ++k) {
        const auto& a = rk.layers[k].weight;
        const auto& b = rt.layers[k].weight;
        ASSERT_EQ(a.size(), b.size());
        long outs = b.shape[0], ins = b.shape[1], h = b.shape[2], w = b.shape[3];
        bool dw = rk.layers[k].info.depthwise;
        for (long o = 0; o < outs; ++o)
            for (long i = 0; i < ins; ++i)
                for (long y = 0; y < h; ++y)
                    for (long x = 0; x < w; ++x)
                        ASSERT_EQ(dw ? kerasAt(a, 0, o, y, x) : kerasAt(a, o, i, y, x),
                                  torchAt(b, o, i, y, x));
        if (rk.layers[k].bias) EXPECT_EQ(rk.layers[k].bias->values, rt.layers[k].bias->values);
    }
}

TEST(WeightFile, Keras2VariantsSplitNamesRootWeightsAndOddPrefixes) {
    test::TempDir dir;
    std::string path = dir.file("variants.h5");
    {
        test::H5Writer w(path);
        // Weights at the root, layer_names split in two attributes, fixed and variable strings.
        w.strings("/", "layer_names0", {"dense_a", "dropout"}, false);
        w.strings("/", "layer_names1", {"dense_b"}, true);
        w.dataset("/dense_a/renamed/kernel:0", {3, 4}, test::randomValues(12, 1, 1));
        w.dataset("/dense_a/renamed/bias:0", {4}, test::randomValues(4, 1, 2));
        w.strings("/dense_a", "weight_names", {"renamed/kernel:0", "renamed/bias:0"}, true);
        w.group("/dropout");
        w.strings("/dropout", "weight_names", {}, false);
        w.dataset("/dense_b/dense_b/kernel:0", {4, 2}, test::randomValues(8, 1, 3), H5T_IEEE_F64BE,
                  true);
        w.strings("/dense_b", "weight_names", {"dense_b/kernel:0"}, false);
    }
    auto info = core::inspectFile(path);
    EXPECT_EQ(info.format, core::Format::Keras2);
    ASSERT_EQ(names(info), (std::vector<std::string>{"dense_a", "dense_b"}));
    EXPECT_EQ(info.layers[0].kind, "Dense");
    EXPECT_TRUE(info.layers[0].hasBias());
    EXPECT_EQ(info.layers[1].dtype, core::DType::Float64);
    EXPECT_EQ(info.layers[1].inChannels(), 4);
    auto model = core::loadModel(path);
    auto r = core::equalize(model, {{"dense_a", "dense_b"}});
    EXPECT_TRUE(r.summary.converged);
}

TEST(WeightFile, Keras3WeightsFile) {
    test::TempDir dir;
    std::string path = dir.file("model.weights.h5");
    {
        test::H5Writer w(path);
        w.dataset("/layers/dense_1/vars/0", {5, 6}, test::randomValues(30, 1, 1));
        w.dataset("/layers/dense_1/vars/1", {6}, test::randomValues(6, 1, 2));
        w.dataset("/layers/functional/layers/dense/vars/0", {6, 2}, test::randomValues(12, 1, 3));
        w.dataset("/layers/batch_normalization/vars/0", {6}, test::randomValues(6, 1, 4));
        w.group("/optimizer/vars");
    }
    auto info = core::inspectFile(path);
    EXPECT_EQ(info.format, core::Format::Keras3);
    EXPECT_EQ(names(info), (std::vector<std::string>{"dense_1", "functional/dense"}));
    EXPECT_TRUE(info.layers[0].hasBias());
    EXPECT_FALSE(core::pairProblem(info, "dense_1", "functional/dense").has_value());
}

TEST(WeightFile, OddLayersAreListedAsUnsupportedWithAReason) {
    test::TempDir dir;
    std::string path = dir.file("odd.h5");
    {
        test::H5Writer w(path);
        w.dataset("/up.weight", {16, 8, 3, 3}, test::randomValues(16 * 8 * 9, 1, 1));
        w.dataset("/up.bias", {8}, test::randomValues(8, 1, 2));  // a transposed convolution
        w.dataset("/empty.weight", {4, 0}, {});
    }
    auto info = core::inspectFile(path);
    EXPECT_FALSE(info.find("up")->supported);
    EXPECT_NE(info.find("up")->unsupportedReason.find("bias has 8 values"), std::string::npos);
    EXPECT_FALSE(info.find("empty")->supported);
    EXPECT_NE(info.find("empty")->unsupportedReason.find("no weights"), std::string::npos);
}

TEST(WeightFile, Keras3SeparableWithoutBias) {
    test::TempDir dir;
    std::string path = dir.file("sep.weights.h5");
    {
        test::H5Writer w(path);
        w.dataset("/layers/sep/vars/0", {3, 3, 8, 1}, test::randomValues(72, 1, 1));
        w.dataset("/layers/sep/vars/1", {1, 1, 8, 16}, test::randomValues(128, 1, 2));
    }
    auto info = core::inspectFile(path);
    ASSERT_EQ(names(info), (std::vector<std::string>{"sep/depthwise", "sep/pointwise"}));
    EXPECT_TRUE(info.layers[0].depthwise);
    EXPECT_FALSE(info.layers[1].hasBias());
    EXPECT_EQ(info.layers[1].outChannels(), 16);
}

TEST(WeightFile, NestedPyTorchGroupsAndGenericFiles) {
    test::TempDir dir;
    std::string path = dir.file("nested.h5");
    {
        test::H5Writer w(path);
        w.dataset("/features/0/weight", {4, 3, 3, 3}, test::randomValues(108, 1, 1));
        w.dataset("/features/0/bias", {4}, test::randomValues(4, 1, 2));
        w.dataset("/features/1/weight", {4}, test::randomValues(4, 1, 3));  // a norm: not a layer
        w.dataset("/features/1/running_mean", {4}, test::randomValues(4, 1, 3));
        w.dataset("/classifier.weight", {2, 4}, test::randomValues(8, 1, 4));
    }
    auto info = core::inspectFile(path);
    EXPECT_EQ(info.format, core::Format::PyTorch);
    EXPECT_EQ(names(info), (std::vector<std::string>{"classifier", "features.0"}));
    EXPECT_TRUE(info.find("features.0")->hasBias());

    std::string generic = dir.file("generic.h5");
    {
        test::H5Writer w(generic);
        w.dataset("/a/w1", {3, 4}, test::randomValues(12, 1, 1));
        w.dataset("/a/w2", {4, 5}, test::randomValues(20, 1, 2));
        w.dataset("/scalar", {3}, test::randomValues(3, 1, 3));
    }
    auto g = core::inspectFile(generic);
    EXPECT_EQ(g.format, core::Format::Generic);
    EXPECT_EQ(names(g), (std::vector<std::string>{"a.w1", "a.w2"}));
    EXPECT_TRUE(core::pairProblem(g, "a.w1", "a.w2").has_value());  // torch: 3 outs vs 5 ins
    auto gk = core::inspectFile(generic, core::Layout::Keras);
    EXPECT_FALSE(core::pairProblem(gk, "a.w1", "a.w2").has_value());  // keras: 4 outs, 4 ins
}

TEST(WeightFile, ReadsEveryFloatTypeAndByteOrder) {
    test::TempDir dir;
    std::string path = dir.file("types.h5");
    std::vector<double> v = {1.0, -2.5, 0.125, 3.0, 65504.0, -0.0009765625};
    hid_t half = test::halfType();
    hid_t halfBE = H5Tcopy(half);
    H5Tset_order(halfBE, H5T_ORDER_BE);
    {
        test::H5Writer w(path);
        w.dataset("/f16.weight", {2, 3}, v, half);
        w.dataset("/f16be.weight", {2, 3}, v, halfBE, true);
        w.dataset("/f32be.weight", {2, 3}, v, H5T_IEEE_F32BE);
        w.dataset("/f64.weight", {2, 3}, v, H5T_IEEE_F64LE, true);
        w.intDataset("/int.weight", {2, 3});
    }
    H5Tclose(halfBE);
    H5Tclose(half);
    auto info = core::inspectFile(path);
    EXPECT_EQ(info.find("f16")->dtype, core::DType::Float16);
    EXPECT_EQ(info.find("f16be")->dtype, core::DType::Float16);
    EXPECT_EQ(info.find("f32be")->dtype, core::DType::Float32);
    EXPECT_EQ(info.find("f64")->dtype, core::DType::Float64);
    EXPECT_FALSE(info.find("int")->supported);
    for (auto name : {"/f16.weight", "/f16be.weight", "/f32be.weight", "/f64.weight"}) {
        auto got = test::readFloats(path, name);
        for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(got[i], float(v[i])) << name;
    }
    auto problem = core::pairProblem(info, "int", "f16");
    ASSERT_TRUE(problem.has_value());
    EXPECT_NE(problem->find("'int'"), std::string::npos);
    EXPECT_NE(problem->find("not floating-point"), std::string::npos);
}

TEST(WeightFile, UnsupportedRankIsListedWithAReason) {
    test::TempDir dir;
    std::string path = dir.file("rank6.h5");
    {
        test::H5Writer w(path);
        w.dataset("/fc.weight", {2, 2}, test::randomValues(4, 1, 1));
        w.dataset("/big.weight", {1, 1, 1, 1, 1, 2}, test::randomValues(2, 1, 1));
    }
    auto info = core::inspectFile(path);
    ASSERT_NE(info.find("big"), nullptr);
    EXPECT_FALSE(info.find("big")->supported);
    auto problem = core::pairProblem(info, "fc", "big");
    ASSERT_TRUE(problem.has_value());
    EXPECT_NE(problem->find("'big' cannot be equalized: weights of rank 6"), std::string::npos);
}

}  // namespace
