// Whole networks, checked at their output: every batch norm next to an equalized layer is folded
// (and only one over the channel axis), nested models are analysed, refusals name their real
// cause, and the exported file computes the same function.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "keras_forward.h"
#include "keras_model.h"
#include "test_util.h"

using namespace cle;

namespace {

test::Image randomImage(long h, long w, long c, unsigned seed) {
    return {h, w, c, test::randomValues(size_t(h * w * c), 1.0, seed)};
}

nlohmann::json readReport(const std::string& path) {
    std::ifstream in(path);
    return nlohmann::json::parse(in);
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

TEST(Network, BatchNormOverImageRowsIsNeverFolded) {
    test::TempDir dir;
    const std::string in = test::dataPath("cases/bn-wrong-axis.h5"), out = dir.file("o.h5");
    auto pairs = test::runCle({"pairs", in});
    EXPECT_EQ(pairs.code, 0);
    EXPECT_TRUE(contains(pairs.out, "suggested chains (0)")) << pairs.out;
    EXPECT_TRUE(contains(pairs.out, "batch norm 'bn' normalizes axis [1], not the channel axis"))
        << pairs.out;
    auto explicitPair = test::runCle({"equalize", in, "-o", out, "--pairs", "conv_a,conv_b"});
    EXPECT_EQ(explicitPair.code, 1);
    EXPECT_TRUE(contains(explicitPair.err, "normalizes axis [1]")) << explicitPair.err;
    EXPECT_FALSE(std::filesystem::exists(out));
    auto autoPairs = test::runCle({"equalize", in, "-o", out, "--auto"});
    EXPECT_EQ(autoPairs.code, 1);  // nothing else to equalize: said, with the reason
    EXPECT_TRUE(contains(autoPairs.err, "normalizes axis [1]")) << autoPairs.err;
    EXPECT_FALSE(std::filesystem::exists(out));
}

TEST(Network, ChannelsFirstBatchNormIsFoldedAndTheFunctionKept) {
    test::TempDir dir;
    const std::string in = test::dataPath("cases/bn-channels-first.h5"), out = dir.file("o.h5");
    auto r = test::runCle({"equalize", in, "-o", out, "--auto", "--report", dir.file("r.json")});
    ASSERT_EQ(r.code, 0) << r.err;
    auto report = readReport(dir.file("r.json"));
    ASSERT_EQ(report["folded_batch_norms"].size(), 1u);
    EXPECT_EQ(report["folded_batch_norms"][0]["into"], "conv_c");
    auto x = randomImage(8, 8, 3, 3);
    EXPECT_LT(test::relativeDifference(test::kerasForward(in, x), test::kerasForward(out, x)),
              1e-5);
}

TEST(Network, NestedModelIsListedInGraphOrderAnalysedAndKeepsItsFunction) {
    test::TempDir dir;
    const std::string in = test::dataPath("cases/nested-bn.h5"), out = dir.file("o.h5");
    auto inspect = test::runCle({"inspect", in});
    EXPECT_LT(inspect.out.find("backbone/conv_a"), inspect.out.find("backbone/conv_b"));
    auto pairs = test::runCle({"pairs", in});
    EXPECT_TRUE(contains(pairs.out, "backbone/conv_a -> backbone/conv_b\n")) << pairs.out;
    EXPECT_TRUE(contains(pairs.out, "boundary of nested model 'backbone'")) << pairs.out;
    EXPECT_FALSE(contains(pairs.out, "by hand"));
    EXPECT_FALSE(contains(pairs.out, "does not take its input"));
    auto across = test::runCle({"equalize", in, "-o", out, "--pairs", "backbone/conv_b,fc"});
    EXPECT_EQ(across.code, 1);
    EXPECT_TRUE(contains(across.err, "boundary of nested model 'backbone'")) << across.err;

    auto r = test::runCle({"equalize", in, "-o", out, "--auto", "--report", dir.file("r.json")});
    ASSERT_EQ(r.code, 0) << r.err;
    auto report = readReport(dir.file("r.json"));
    ASSERT_EQ(report["folded_batch_norms"].size(), 1u);
    EXPECT_EQ(report["folded_batch_norms"][0]["batch_norm"], "bn_a");
    EXPECT_EQ(report["folded_batch_norms"][0]["into"], "backbone/conv_a");
    auto x = randomImage(8, 8, 3, 4);
    EXPECT_LT(test::relativeDifference(test::kerasForward(in, x), test::kerasForward(out, x)),
              1e-5);
}

TEST(Network, NestedModelWithoutBatchNormIsEqualizedAndKeepsItsFunction) {
    test::TempDir dir;
    const std::string in = test::dataPath("cases/nested-plain.h5"), out = dir.file("o.h5");
    auto r = test::runCle({"equalize", in, "-o", out, "--auto", "--report", dir.file("r.json")});
    ASSERT_EQ(r.code, 0) << r.err;
    auto report = readReport(dir.file("r.json"));
    EXPECT_TRUE(report["folded_batch_norms"].empty());
    ASSERT_EQ(report["pairs"].size(), 1u);
    auto x = randomImage(8, 8, 3, 5);
    EXPECT_LT(test::relativeDifference(test::kerasForward(in, x), test::kerasForward(out, x)),
              1e-5);
}

TEST(Network, DepthMultiplierAndTransposedConvolutionAreNamedTheSameEverywhere) {
    const std::string in = test::dataPath("cases/depth-multiplier.h5");
    const std::string multiplier = "depth multiplier 2 (only 1 can be equalized)";
    auto inspect = test::runCle({"inspect", in});
    EXPECT_TRUE(contains(inspect.out, multiplier)) << inspect.out;
    EXPECT_TRUE(contains(inspect.out, "transposed convolution")) << inspect.out;
    auto pairs = test::runCle({"pairs", in});
    EXPECT_TRUE(contains(pairs.out, "suggested chains (0)"));
    EXPECT_TRUE(contains(pairs.out, "conv0 -> dwm: layer 'dwm' cannot be equalized: " + multiplier))
        << pairs.out;
    EXPECT_TRUE(contains(pairs.out, "layer 'up' cannot be equalized: transposed convolution"));
    test::TempDir dir;
    for (const auto& p : {"conv0,dwm", "dwm,pw"}) {
        auto r = test::runCle({"equalize", in, "-o", dir.file("o.h5"), "--pairs", p});
        EXPECT_EQ(r.code, 1);
        EXPECT_TRUE(contains(r.err, "layer 'dwm' cannot be equalized: " + multiplier)) << r.err;
    }
    auto up = test::runCle({"equalize", in, "-o", dir.file("o.h5"), "--pairs", "pw,up"});
    EXPECT_TRUE(contains(up.err, "layer 'up' cannot be equalized: transposed convolution"));
}

void overwrite(const std::string& file, const std::string& dataset,
               const std::function<void(std::vector<double>&)>& change) {
    auto floats = test::readFloats(file, dataset);
    std::vector<double> v(floats.begin(), floats.end());
    change(v);
    hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, dataset.c_str(), H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
    H5Dclose(d);
    H5Fclose(f);
}

std::string bnPath(const std::string& bn, const std::string& var) {
    return "/model_weights/" + bn + "/" + bn + "/" + var + ":0";
}

// An inverted-residual block as in MobileNetV2: expand 1x1 -> BN -> ReLU6 -> depthwise 3x3 -> BN
// -> ReLU6 -> project 1x1 (no bias) -> BN -> Add with the block's input. Expand's output channel
// 5 is dead (all weights equal), expand_BN's gamma 3 is 0 (a channel that is zero after
// folding) and depthwise_BN's gamma 7 is 0 (a depthwise channel constant after folding).
std::string invertedResidual(const test::TempDir& dir) {
    using test::json;
    const std::string path = dir.file("block.h5");
    auto conv1x1 = [](long out, bool bias) {
        return json{{"filters", out},
                    {"kernel_size", {1, 1}},
                    {"padding", "same"},
                    {"activation", "linear"},
                    {"use_bias", bias}};
    };
    test::KerasModel m;
    m.layer("Conv2D", "expand", conv1x1(24, true))
        .weights({{"kernel", {1, 1, 8, 24}}, {"bias", {24}}});
    m.batchNorm("expand_BN", 24).layer("ReLU", "expand_relu", {{"max_value", 6.0}});
    m.layer("DepthwiseConv2D", "depthwise",
            {{"padding", "same"}, {"activation", "linear"}, {"depth_multiplier", 1}})
        .weights({{"depthwise_kernel", {3, 3, 24, 1}}, {"bias", {24}}});
    m.batchNorm("depthwise_BN", 24).layer("ReLU", "depthwise_relu", {{"max_value", 6.0}});
    m.layer("Conv2D", "project", conv1x1(8, false)).weights({{"kernel", {1, 1, 24, 8}}});
    m.batchNorm("project_BN", 8);
    m.layer("Add", "add", json::object(), test::Names{"input", "project_BN"});
    m.write(path);
    for (const char* bn : {"expand_BN", "depthwise_BN", "project_BN"}) {
        overwrite(path, bnPath(bn, "moving_variance"), [](auto& v) {
            for (size_t i = 0; i < v.size(); ++i) v[i] = 0.02 + std::abs(v[i]) * double(1 + i % 5);
        });
        overwrite(path, bnPath(bn, "gamma"), [](auto& v) {
            for (auto& g : v) g = 0.5 + 2 * std::abs(g);
        });
        overwrite(path, bnPath(bn, "beta"), [](auto& v) {
            for (auto& b : v) b *= 3;
        });
    }
    overwrite(path, "/model_weights/expand/expand/kernel:0", [](auto& v) {
        for (size_t i = 5; i < v.size(); i += 24) v[i] = 0.3;
    });
    overwrite(path, bnPath("expand_BN", "gamma"), [](auto& v) { v[3] = 0; });
    overwrite(path, bnPath("depthwise_BN", "gamma"), [](auto& v) { v[7] = 0; });
    return path;
}

}  // namespace

TEST(Network, BundledSampleKeepsItsFunctionAndGainsUnderInt8) {
    test::TempDir dir;
    const std::string in = test::samplePath("tiny_face_detector_keras.h5"), out = dir.file("o.h5");
    auto r = test::runCle({"equalize", in, "-o", out, "--auto", "--report", dir.file("r.json")});
    ASSERT_EQ(r.code, 0) << r.err;
    auto report = readReport(dir.file("r.json"));
    EXPECT_TRUE(report["quantization"]["summary"]["collapsed_layers"].empty());
    const auto& perTensor = report["quantization"]["summary"]["per_tensor"];
    EXPECT_GT(perTensor["after"]["median"].get<double>(),
              perTensor["before"]["median"].get<double>());
    auto x = randomImage(34, 34, 3, 11);
    const auto want = test::kerasForward(in, x);
    EXPECT_LT(test::relativeDifference(want, test::kerasForward(out, x)), 1e-5);
    // The same check sees one output channel scaled without compensation.
    overwrite(out, "/model_weights/conv0/conv0/kernel:0", [](auto& v) {
        for (size_t i = 0; i < v.size(); i += 16) v[i] *= 2;
    });
    EXPECT_GT(test::relativeDifference(want, test::kerasForward(out, x)), 1e-3);
}

TEST(Network, InvertedResidualBlockFoldsEveryBatchNormAndKeepsItsFunction) {
    test::TempDir dir;
    const std::string in = invertedResidual(dir), out = dir.file("o.h5");
    auto r = test::runCle({"equalize", in, "-o", out, "--auto", "--allow-relu6", "--report",
                           dir.file("r.json"), "--quiet"});
    ASSERT_EQ(r.code, 0) << r.err;
    auto report = readReport(dir.file("r.json"));
    std::map<std::string, std::string> folded;
    for (const auto& f : report["folded_batch_norms"]) folded[f["batch_norm"]] = f["into"];
    EXPECT_EQ(folded, (std::map<std::string, std::string>{{"expand_BN", "expand"},
                                                          {"depthwise_BN", "depthwise"},
                                                          {"project_BN", "project"}}));
    ASSERT_EQ(report["pairs"].size(), 2u);
    // Dead output channels of expand (5 by its weights, 3 by its batch norm) and depthwise's
    // channel 7, constant after folding: left unscaled, reported.
    EXPECT_EQ(report["dead_channels"][0], (nlohmann::json{3, 5}));
    EXPECT_EQ(report["dead_channels"][1], (nlohmann::json{7}));
    EXPECT_EQ(report["constant_input_channels"][0], (nlohmann::json{7}));
    // What --quiet still says, and the ReLU6 relaxation's estimated cost.
    EXPECT_TRUE(contains(r.out, "besides the equalized weights: 3 batch norms folded")) << r.out;
    EXPECT_TRUE(contains(r.out, "2 ReLU6 relaxed to ReLU (worst: ")) << r.out;
    ASSERT_EQ(report["relu6_cost"].size(), 2u);
    EXPECT_EQ(report["relu6_cost"][0]["batch_norm"], "expand_BN");
    EXPECT_GT(report["relu6_cost"][0]["worst_fraction_above_6"].get<double>(), 0.0);

    EXPECT_TRUE(report["quantization"]["summary"]["collapsed_layers"].empty());
    for (const auto& layer : report["quantization"]["layers"])
        EXPECT_FALSE(layer["collapsed_after"].get<bool>()) << layer.dump();
    EXPECT_FALSE(contains(r.out, "inf")) << r.out;  // imbalance of the live channels

    auto x = randomImage(6, 6, 8, 9);
    EXPECT_LT(test::relativeDifference(test::kerasForward(in, x, true), test::kerasForward(out, x)),
              1e-5);
}
