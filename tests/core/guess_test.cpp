// Pairs guessed for files without a layer graph (PyTorch state dicts, Keras 3 .weights.h5):
// name order, batch norms found whatever their names and attributed by naming or --fold-bn, and
// the pairs refused because a normalization or a depthwise layer could sit between.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "cle/core/error.h"
#include "cle/core/topology.h"
#include "cli_runner.h"
#include "keras_model.h"
#include "test_util.h"

using namespace cle;

namespace {

using test::Names;
using test::Shape;

class TorchFile {
public:
    explicit TorchFile(const std::string& path) : w_(path) {}
    TorchFile& weight(const std::string& name, const Shape& shape) {
        auto values = test::randomValues(size_t(test::count(shape)), 1, 5);
        w_.dataset("/" + name + ".weight", shape, values);
        return *this;
    }
    TorchFile& batchNorm(const std::string& name, std::int64_t channels, char sep = '.') {
        for (const char* v : {"weight", "bias", "running_mean", "running_var"})
            w_.dataset("/" + name + sep + v, {channels}, std::vector<double>(size_t(channels), 1));
        w_.intDataset("/" + name + sep + "num_batches_tracked", {1});
        return *this;
    }

private:
    test::H5Writer w_;
};

class Guess : public ::testing::Test {
protected:
    core::Topology build(const std::string& path, const core::TopologyOptions& options = {}) {
        info_ = core::inspectFile(path);
        return core::Topology::build(info_, options);
    }
    static std::string reason(const core::PairPlan& p, const std::string& a, const std::string& b) {
        for (const auto& r : p.rejected)
            if (r.layers == Names{a, b}) return r.reason;
        return "";
    }
    static bool suggested(const core::PairPlan& p, const std::string& a, const std::string& b) {
        for (const auto& s : p.suggested)
            for (size_t i = 0; i + 1 < s.layers.size(); ++i)
                if (s.layers[i] == a && s.layers[i + 1] == b) return true;
        return false;
    }
    static const core::BatchNormRef* normAfter(const core::Topology& t, const std::string& layer) {
        for (const auto& bn : t.batchNorms_)
            if (bn.after == layer) return &bn;
        return nullptr;
    }
    static std::string usageErrorOf(const std::function<void()>& f) {
        try {
            f();
        } catch (const core::Error& e) {
            EXPECT_EQ(e.kind(), core::ErrorKind::Usage) << e.what();
            return e.what();
        }
        ADD_FAILURE() << "no error";
        return "";
    }

    test::TempDir dir_;
    core::ModelInfo info_;
};

bool has(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// --- PyTorch naming ----------------------------------------------------------------------------

TEST_F(Guess, TorchLayersAreOrderedByNumber) {
    std::string path = dir_.file("t.h5");
    TorchFile(path).weight("layer1", {4, 3}).weight("layer10", {6, 8}).weight("layer2", {8, 4});
    auto p = build(path).suggest(false);
    ASSERT_EQ(p.suggested.size(), 1u);
    EXPECT_EQ(p.suggested[0].layers, (Names{"layer1", "layer2", "layer10"}));
    EXPECT_TRUE(p.suggested[0].guessed);
}

TEST_F(Guess, TorchChannelMismatchIsRejectedAndBreaksTheChain) {
    std::string path = dir_.file("t.h5");
    TorchFile(path).weight("fc1", {4, 3}).weight("fc2", {8, 5}).weight("fc3", {2, 8});
    auto p = build(path).suggest(false);
    ASSERT_EQ(p.suggested.size(), 1u);
    EXPECT_EQ(p.suggested[0].layers, (Names{"fc2", "fc3"}));
    EXPECT_TRUE(has(reason(p, "fc1", "fc2"), "channel mismatch"));
}

TEST_F(Guess, TorchBatchNormsAreFoundByNaming) {
    std::string path = dir_.file("t.h5");
    TorchFile(path)
        .weight("conv1", {8, 3, 3, 3})
        .batchNorm("bn1", 8)
        .weight("features.3", {6, 8, 3, 3})
        .batchNorm("features.4", 6)
        .weight("features.10", {4, 6, 1, 1})
        .weight("layer1/0/conv2", {4, 4, 3, 3})
        .batchNorm("layer1/0/bn2", 4, '/')
        .weight("layer1/0/downsample.0", {4, 4, 1, 1})
        .batchNorm("layer1/0/downsample.1", 4);
    auto t = build(path);
    auto expectNorm = [&](const std::string& a, const std::string& b, const std::string& bn,
                          const std::string& mean) {
        auto l = t.link(a, b, false, nullptr);
        ASSERT_TRUE(l.has_value());
        EXPECT_TRUE(l->guessed);
        ASSERT_TRUE(l->batchNorm.has_value()) << a;
        EXPECT_EQ(l->batchNorm->name, bn);
        EXPECT_EQ(l->batchNorm->after, a);
        EXPECT_EQ(l->batchNorm->meanPath, mean);
        EXPECT_DOUBLE_EQ(l->batchNorm->epsilon, 1e-5);
    };
    expectNorm("conv1", "features.3", "bn1", "/bn1.running_mean");
    expectNorm("features.3", "features.10", "features.4", "/features.4.running_mean");
    expectNorm("layer1.0.conv2", "layer1.0.downsample.0", "layer1.0.bn2",
               "/layer1/0/bn2/running_mean");
    expectNorm("layer1.0.downsample.0", "x", "layer1.0.downsample.1",
               "/layer1/0/downsample.1.running_mean");
    auto l = t.link("features.10", "conv1", false, nullptr);
    ASSERT_TRUE(l.has_value());
    EXPECT_FALSE(l->batchNorm.has_value());
    EXPECT_EQ(t.batchNorms_.size(), 4u);
    EXPECT_TRUE(t.unattributed_.empty());
    auto p = t.suggest(false);
    ASSERT_FALSE(p.suggested.empty());
    EXPECT_EQ(p.suggested[0].layers, (Names{"conv1", "features.3", "features.10", "layer1.0.conv2",
                                            "layer1.0.downsample.0"}));
}

TEST_F(Guess, TorchBatchNormSuffixesAreAttributedWhenTheChannelsAgree) {
    std::string path = dir_.file("t.h5");
    TorchFile(path)
        .weight("a", {8, 3, 3, 3})
        .batchNorm("a_BN", 8)
        .weight("b", {8, 8, 1, 1})
        .batchNorm("b.bn", 8)
        .weight("c", {8, 8, 1, 1})
        .batchNorm("c/BatchNorm", 8, '/')
        .weight("d", {6, 8, 1, 1})
        .batchNorm("d_bn", 8)  // 8 channels after a 6-channel layer
        .weight("e", {2, 6});
    auto t = build(path);
    EXPECT_EQ(normAfter(t, "a")->name, "a_BN");
    EXPECT_EQ(normAfter(t, "b")->name, "b.bn");
    EXPECT_EQ(normAfter(t, "c")->name, "c.BatchNorm");
    EXPECT_EQ(normAfter(t, "d"), nullptr);
    ASSERT_EQ(t.unattributed_.size(), 1u);
    EXPECT_EQ(t.unattributed_[0].name, "d_bn");
    EXPECT_EQ(t.unattributed_[0].couldFollow, (Names{"a", "b", "c"}));
    // d_bn could follow a, b or c: none of their pairs is guessed; d -> e is.
    auto p = t.suggest(false);
    ASSERT_EQ(p.suggested.size(), 1u);
    EXPECT_EQ(p.suggested[0].layers, (Names{"d", "e"}));
    EXPECT_TRUE(has(reason(p, "b", "c"), "--fold-bn b=d_bn")) << reason(p, "b", "c");
}

TEST_F(Guess, UnattributedTorchBatchNormIsRefusedUntilTheUserAttributesIt) {
    std::string path = dir_.file("t.h5");
    TorchFile(path).weight("l1", {8, 3, 3, 3}).batchNorm("norm_x", 8).weight("l2", {4, 8});
    auto t = build(path);
    auto p = t.suggest(false);
    EXPECT_TRUE(p.suggested.empty());
    std::string why;
    EXPECT_FALSE(t.link("l1", "l2", false, &why).has_value());
    EXPECT_TRUE(has(why, "'norm_x' (8 channels)") && has(why, "--fold-bn l1=norm_x")) << why;

    core::TopologyOptions options{{{"l1", "norm_x"}}, 1e-3};
    auto fixed = build(path, options);
    auto l = fixed.link("l1", "l2", false, &why);
    ASSERT_TRUE(l && l->batchNorm);
    EXPECT_EQ(l->batchNorm->name, "norm_x");
    EXPECT_DOUBLE_EQ(l->batchNorm->epsilon, 1e-3);
    EXPECT_TRUE(suggested(fixed.suggest(false), "l1", "l2"));
}

// --- MobileNetV2-like state dicts: expand -> depthwise -> project ------------------------------

TEST_F(Guess, MobileNetBlocksAreNeverPairedAroundTheirDepthwiseLayer) {
    std::string path = dir_.file("mnv2.h5");
    TorchFile f(path);
    for (const char* block : {"block_1", "block_2"}) {
        std::string b = block;
        f.weight(b + "_expand", {96, 24, 1, 1}).batchNorm(b + "_expand_BN", 96);
        f.weight(b + "_depthwise", {96, 1, 3, 3}).batchNorm(b + "_depthwise_BN", 96);
        f.weight(b + "_project", {24, 96, 1, 1}).batchNorm(b + "_project_BN", 24);
    }
    auto t = build(path);
    EXPECT_EQ(t.batchNorms_.size(), 6u);
    EXPECT_TRUE(t.unattributed_.empty());
    EXPECT_EQ(normAfter(t, "block_1_depthwise")->name, "block_1_depthwise_BN");
    auto p = t.suggest(false);
    for (const char* block : {"block_1", "block_2"}) {
        std::string b = block;
        EXPECT_FALSE(suggested(p, b + "_expand", b + "_project"));
        EXPECT_TRUE(has(reason(p, b + "_expand", b + "_project"), "depthwise layer"))
            << reason(p, b + "_expand", b + "_project");
    }
    auto printed = test::runCle({"pairs", path});
    for (const char* hint : {"--pairs block_1_expand,block_1_depthwise,block_1_project",
                             "--pairs block_2_expand,block_2_depthwise,block_2_project"})
        EXPECT_TRUE(has(printed.out, hint)) << printed.out;
    for (const auto& s : p.suggested)  // anything offered is a whole expand -> dw -> project run
        for (size_t i = 0; i + 1 < s.layers.size(); ++i)
            EXPECT_TRUE(s.layers[i + 1].ends_with("_depthwise") ||
                        s.layers[i].ends_with("_depthwise"))
                << s.layers[i] << " -> " << s.layers[i + 1];
}

TEST_F(Guess, MobileNetBlockNamedConvKIsChainedThroughItsDepthwiseLayer) {
    std::string path = dir_.file("mnv2k.h5");
    TorchFile(path)
        .weight("features.1.conv1", {96, 24, 1, 1})
        .batchNorm("features.1.bn1", 96)
        .weight("features.1.conv2", {96, 1, 3, 3})
        .batchNorm("features.1.bn2", 96)
        .weight("features.1.conv3", {24, 96, 1, 1})
        .batchNorm("features.1.bn3", 24);
    auto t = build(path);
    auto p = t.suggest(false);
    ASSERT_EQ(p.suggested.size(), 1u);
    EXPECT_EQ(p.suggested[0].layers,
              (Names{"features.1.conv1", "features.1.conv2", "features.1.conv3"}));
    EXPECT_EQ(normAfter(t, "features.1.conv2")->name, "features.1.bn2");
    EXPECT_EQ(normAfter(t, "features.1.conv3")->name, "features.1.bn3");
}

// --- Keras 3 .weights.h5 and Keras 2 without a graph --------------------------------------------

TEST_F(Guess, Keras3BatchNormIsNeverAttributedByItself) {
    auto t = build(test::dataPath("cases/keras3-flat-bn.weights.h5"));
    EXPECT_FALSE(t.known());
    EXPECT_TRUE(t.batchNorms_.empty());
    ASSERT_EQ(t.unattributed_.size(), 1u);
    EXPECT_EQ(t.unattributed_[0].name, "batch_normalization");
    auto p = t.suggest(false);
    EXPECT_TRUE(p.suggested.empty());
    EXPECT_TRUE(has(reason(p, "conv2d", "conv2d_1"),
                    "batch norm 'batch_normalization' (8 channels) is not attributed to a layer "
                    "and could follow 'conv2d'; attribute it with --fold-bn "
                    "conv2d=batch_normalization"));

    auto attributed = build(test::dataPath("cases/keras3-flat-bn.weights.h5"),
                            {{{"conv2d", "batch_normalization"}}, std::nullopt});
    auto l = attributed.link("conv2d", "conv2d_1", false, nullptr);
    ASSERT_TRUE(l && l->batchNorm);
    EXPECT_EQ(l->batchNorm->gammaPath, "/layers/batch_normalization/vars/0");
    EXPECT_EQ(l->batchNorm->varPath, "/layers/batch_normalization/vars/3");
    EXPECT_DOUBLE_EQ(l->batchNorm->epsilon, 1e-3);
    EXPECT_TRUE(suggested(attributed.suggest(false), "conv2d", "conv2d_1"));
}

TEST_F(Guess, Keras3NormalizationWithFewerVectorsCannotBeFolded) {
    std::string path = dir_.file("k3.weights.h5");
    {
        test::H5Writer w(path);
        w.dataset("/layers/conv2d/vars/0", {3, 3, 3, 8}, test::randomValues(216, 1, 1));
        w.dataset("/layers/conv2d/vars/1", {8}, test::randomValues(8, 1, 2));
        for (const char* v : {"0", "1", "2"})  // BatchNormalization(scale=False)
            w.dataset(std::string("/layers/batch_normalization/vars/") + v, {8},
                      std::vector<double>(8, 1));
        w.dataset("/layers/dense/vars/0", {8, 2}, test::randomValues(16, 1, 3));
    }
    auto t = build(path);
    ASSERT_EQ(t.unattributed_.size(), 1u);
    EXPECT_FALSE(t.unattributed_[0].foldable);
    auto why = reason(t.suggest(false), "conv2d", "dense");
    EXPECT_TRUE(has(why, "(3 vectors of 8 values)") && has(why, "cannot be folded")) << why;
    auto error = usageErrorOf([&] { build(path, {{{"conv2d", "batch_normalization"}}, {}}); });
    EXPECT_TRUE(has(error, "holds 3 vectors")) << error;
}

TEST_F(Guess, Keras2FileWithoutGraphFindsItsBatchNorms) {
    test::KerasModel m;
    m.conv("a", 3, 8).batchNorm("bn", 8).conv("b", 8, 4);
    std::string path = dir_.file("k2.h5");
    m.writeWith(path, R"({"class_name": "Model", "config": {"name": "m", "layers": []}})");
    auto t = build(path);
    EXPECT_FALSE(t.known());
    EXPECT_TRUE(has(reason(t.suggest(false), "a", "b"), "--fold-bn a=bn"));
    auto fixed = build(path, {{{"a", "bn"}}, 1e-4});
    auto l = fixed.link("a", "b", false, nullptr);
    ASSERT_TRUE(l && l->batchNorm);
    EXPECT_EQ(l->batchNorm->meanPath, "/model_weights/bn/bn/moving_mean:0");
    EXPECT_DOUBLE_EQ(l->batchNorm->epsilon, 1e-4);
}

// --- Option errors -----------------------------------------------------------------------------

TEST_F(Guess, FoldBnMistakesAreUsageErrorsNamingWhatIsWrong) {
    std::string keras3 = test::dataPath("cases/keras3-flat-bn.weights.h5");
    auto wrongWidth = usageErrorOf([&] {
        build(keras3, {{{"conv2d_1", "batch_normalization"}}, {}});
    });
    EXPECT_TRUE(has(wrongWidth, "'batch_normalization' has 8 channels") &&
                has(wrongWidth, "'conv2d_1' has 4 output channels"))
        << wrongWidth;
    EXPECT_TRUE(has(usageErrorOf([&] {
                        build(keras3, {{{"nope", "batch_normalization"}}, {}});
                    }),
                    "no layer 'nope'"));
    EXPECT_TRUE(has(usageErrorOf([&] {
                        build(keras3, {{{"conv2d", "bn"}}, {}});
                    }),
                    "has no batch norm 'bn'; it has 'batch_normalization'"));
    EXPECT_TRUE(has(usageErrorOf([&] { build(keras3, {{}, -1.0}); }), "--bn-epsilon"));
    std::string graph = test::samplePath("tiny_face_detector_keras.h5");
    EXPECT_TRUE(has(usageErrorOf([&] {
                        build(graph, {{{"conv0", "x"}}, {}});
                    }),
                    "for files without a layer graph"));
}

// --- The command line on the Keras 3 file --------------------------------------------------------

using Image = std::vector<double>;

// conv2d -> batch norm (epsilon 1e-3) -> ReLU -> conv2d_1 on a 6x6x3 input, from `file`'s weights.
Image keras3Forward(const std::string& file, const Image& x) {
    auto v = [&](const std::string& layer, int i) {
        return core::readDataset(file, "/layers/" + layer + "/vars/" + std::to_string(i));
    };
    Image h = test::kerasConv(x, 6, 6, v("conv2d", 0), v("conv2d", 1));
    auto gamma = v("batch_normalization", 0), beta = v("batch_normalization", 1);
    auto mean = v("batch_normalization", 2), var = v("batch_normalization", 3);
    for (size_t i = 0; i < h.size(); ++i) {
        size_t c = i % 8;
        double y = gamma.values[c] * (h[i] - mean.values[c]) / std::sqrt(var.values[c] + 1e-3) +
                   beta.values[c];
        h[i] = std::max(0.0, y);
    }
    return test::kerasConv(h, 4, 4, v("conv2d_1", 0), v("conv2d_1", 1));
}

TEST_F(Guess, Keras3PairIsRefusedUntilItsBatchNormIsAttributedThenKeepsTheFunction) {
    std::string in = test::dataPath("cases/keras3-flat-bn.weights.h5");
    std::string out = dir_.file("out.weights.h5");
    auto pairs = test::runCle({"pairs", in});
    EXPECT_EQ(pairs.code, 0);
    EXPECT_TRUE(has(pairs.out, "suggested chains (0)"));
    EXPECT_TRUE(has(pairs.out, "conv2d -> conv2d_1: batch norm 'batch_normalization'"))
        << pairs.out;

    auto refused = test::runCle({"equalize", in, "-o", out, "--pairs", "conv2d,conv2d_1", "-q"});
    EXPECT_EQ(refused.code, 1);
    EXPECT_TRUE(has(refused.err, "'batch_normalization'") &&
                has(refused.err, "--fold-bn conv2d=batch_normalization"))
        << refused.err;
    EXPECT_TRUE(dir_.entries().empty());

    auto ok = test::runCle({"equalize", in, "-o", out, "--pairs", "conv2d,conv2d_1", "--fold-bn",
                            "conv2d=batch_normalization"});
    ASSERT_EQ(ok.code, 0) << ok.err;
    EXPECT_TRUE(has(ok.err, "folded batch norm batch_normalization into conv2d (epsilon 0.001"))
        << ok.err;
    Image x = test::randomValues(6 * 6 * 3, 1.0, 11);
    Image want = keras3Forward(in, x), got = keras3Forward(out, x);
    double scale = 0;
    for (double v : want) scale = std::max(scale, std::abs(v));
    ASSERT_EQ(want.size(), got.size());
    for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-4 * scale) << i;

    auto autoRun =
        test::runCle({"equalize", in, "-o", dir_.file("auto.weights.h5"), "--auto",
                      "--accept-guesses", "-q", "--fold-bn", "conv2d=batch_normalization"});
    EXPECT_EQ(autoRun.code, 0) << autoRun.err;
    auto hint = test::runCle(
        {"pairs", in, "--fold-bn", "conv2d=batch_normalization", "--bn-epsilon", "1e-4"});
    EXPECT_TRUE(has(hint.out, "conv2d -> conv2d_1   [guessed]")) << hint.out;
    EXPECT_TRUE(has(hint.out,
                    "--auto --accept-guesses --fold-bn conv2d=batch_normalization "
                    "--bn-epsilon 0.0001\n"))
        << hint.out;
    auto badOption = test::runCle({"pairs", in, "--fold-bn", "conv2d"});
    EXPECT_EQ(badOption.code, 2);
    EXPECT_TRUE(has(badOption.err, "LAYER=BATCHNORM")) << badOption.err;
}

}  // namespace
