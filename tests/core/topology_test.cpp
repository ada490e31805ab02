// Pairs from the topology: Keras graphs (functional, Sequential, Keras 3 style, nested), every
// rejection reason, ReLU6 and batch norms (guessed pairs: guess_test.cpp).
#include "cle/core/topology.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cle/core/error.h"
#include "cle/core/layer_pair.h"
#include "keras_model.h"
#include "test_util.h"

using namespace cle;
using nlohmann::json;

namespace {

using test::KerasModel;
using test::Names;
using test::Shape;

class Topology : public ::testing::Test {
protected:
    core::PairPlan plan(const KerasModel& m, bool relu6 = false,
                        KerasModel::Style style = KerasModel::Style::Keras2) {
        std::string path = dir_.file("model" + std::to_string(++files_) + ".h5");
        m.write(path, style);
        return build(path).suggest(relu6);
    }
    core::Topology build(const std::string& path) {
        info_ = core::inspectFile(path);
        return core::Topology::build(info_);
    }
    /// The reason (a, b) was rejected, "" when it was not.
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
    void expectRejected(const KerasModel& m, const std::string& a, const std::string& b,
                        const std::string& text) {
        auto p = plan(m);
        EXPECT_FALSE(suggested(p, a, b));
        EXPECT_NE(reason(p, a, b).find(text), std::string::npos)
            << "reason: '" << reason(p, a, b) << "'";
    }

    test::TempDir dir_;
    core::ModelInfo info_;
    int files_ = 0;
};

Names tinyChain(const std::string& sep) {
    Names n = {"conv0"};
    for (int i = 1; i <= 5; ++i) {
        n.push_back("conv" + std::to_string(i) + sep + "depthwise");
        n.push_back("conv" + std::to_string(i) + sep + "pointwise");
    }
    n.push_back("conv8");
    return n;
}

// --- The bundled sample in both layouts ---------------------------------------------------------

TEST_F(Topology, TinyFaceDetectorKerasFollowsTheGraph) {
    auto t = build(test::samplePath("tiny_face_detector_keras.h5"));
    EXPECT_TRUE(t.known());
    auto p = t.suggest(false);
    ASSERT_EQ(p.suggested.size(), 1u);
    EXPECT_EQ(p.suggested[0].layers, tinyChain("/"));
    EXPECT_FALSE(p.suggested[0].guessed);
    EXPECT_TRUE(p.rejected.empty());
}

TEST_F(Topology, TinyFaceDetectorTorchIsGuessed) {
    auto t = build(test::samplePath("tiny_face_detector_torch.h5"));
    EXPECT_FALSE(t.known());
    auto p = t.suggest(false);
    ASSERT_EQ(p.suggested.size(), 1u);
    EXPECT_EQ(p.suggested[0].layers, tinyChain("."));
    EXPECT_TRUE(p.suggested[0].guessed);
}

TEST_F(Topology, UserPairsAreCheckedAgainstTheGraph) {
    auto t = build(test::samplePath("tiny_face_detector_keras.h5"));
    std::string why;
    auto l = t.link("conv0", "conv1/depthwise", false, &why);
    ASSERT_TRUE(l.has_value());
    EXPECT_FALSE(l->guessed);
    EXPECT_FALSE(l->batchNorm.has_value());
    EXPECT_FALSE(t.link("conv0", "conv2/depthwise", false, &why).has_value());
    EXPECT_NE(why.find("does not take its input from 'conv0'"), std::string::npos) << why;
    EXPECT_FALSE(t.link("conv0", "nothing", false, &why).has_value());
    EXPECT_NE(why.find("'nothing'"), std::string::npos) << why;

    auto torch = build(test::samplePath("tiny_face_detector_torch.h5"));
    auto g = torch.link("conv0", "conv3.pointwise", false, &why);  // no graph: not refused
    ASSERT_TRUE(g.has_value());
    EXPECT_TRUE(g->guessed);
}

TEST_F(Topology, PlanJsonHasTheDocumentedShape) {
    core::PairPlan p;
    p.suggested.push_back({{"a", "b", "c"}, false});
    p.rejected.push_back({{"x", "y"}, "because"});
    core::Region r;
    r.sources = {"s1", "s2"};
    r.sinks = {"k"};
    p.regions.push_back({r, {}, {}});
    p.rejectedRegions.push_back({r, "why"});
    auto text = core::planJson(p);
    EXPECT_EQ(text.find("\"suggested\""), text.find('"'));  // first key
    EXPECT_EQ(json::parse(text), json::parse(R"({"suggested": [{"layers": ["a", "b", "c"],
        "guessed": false}], "rejected": [{"layers": ["x", "y"], "reason": "because"}],
        "regions": [{"sources": ["s1", "s2"], "sinks": ["k"]}],
        "rejected_regions": [{"sources": ["s1", "s2"], "sinks": ["k"], "reason": "why"}]})"));
}

// --- Admissible paths ---------------------------------------------------------------------------

TEST_F(Topology, ConvBatchNormReluConvFoldsTheBatchNorm) {
    KerasModel m;
    m.conv("a", 3, 8).batchNorm("bn", 8, {{"epsilon", 1e-5}}).activation("act", "relu");
    m.conv("b", 8, 4);
    m.write(dir_.file("bn.h5"));
    auto t = build(dir_.file("bn.h5"));
    auto p = t.suggest(false);
    ASSERT_EQ(p.suggested.size(), 1u);
    EXPECT_EQ(p.suggested[0].layers, (Names{"a", "b"}));
    auto l = t.link("a", "b", false, nullptr);
    ASSERT_TRUE(l && l->batchNorm);
    const auto& bn = *l->batchNorm;
    EXPECT_EQ(bn.name, "bn");
    EXPECT_EQ(bn.after, "a");
    EXPECT_EQ(bn.gammaPath, "/model_weights/bn/bn/gamma:0");
    EXPECT_EQ(bn.betaPath, "/model_weights/bn/bn/beta:0");
    EXPECT_EQ(bn.meanPath, "/model_weights/bn/bn/moving_mean:0");
    EXPECT_EQ(bn.varPath, "/model_weights/bn/bn/moving_variance:0");
    EXPECT_DOUBLE_EQ(bn.epsilon, 1e-5);
}

TEST_F(Topology, BatchNormWithoutScaleHasNoGammaAndTheDefaultEpsilon) {
    KerasModel m;
    m.dense("a", 3, 8).batchNorm("bn", 8, {{"scale", false}}).dense("b", 8, 2);
    m.write(dir_.file("m.h5"));
    auto l = build(dir_.file("m.h5")).link("a", "b", false, nullptr);
    ASSERT_TRUE(l && l->batchNorm);
    EXPECT_TRUE(l->batchNorm->gammaPath.empty());
    EXPECT_EQ(l->batchNorm->betaPath, "/model_weights/bn/bn/beta:0");
    EXPECT_DOUBLE_EQ(l->batchNorm->epsilon, 1e-3);
}

TEST_F(Topology, PassThroughLayersAreAdmitted) {
    KerasModel m;
    m.conv("a", 3, 8, {{"activation", "relu"}}).layer("ZeroPadding2D", "pad");
    m.layer("MaxPooling2D", "pool").layer("LeakyReLU", "leaky").layer("Dropout", "drop");
    m.conv("b", 8, 8).layer("PReLU", "prelu").layer("AveragePooling2D", "avg");
    m.layer("ReLU", "relu").layer("SpatialDropout2D", "sdrop").conv("c", 8, 4);
    auto p = plan(m);
    ASSERT_EQ(p.suggested.size(), 1u);
    EXPECT_EQ(p.suggested[0].layers, (Names{"a", "b", "c"}));
    EXPECT_TRUE(p.rejected.empty());
}

TEST_F(Topology, GlobalAveragePoolingOnlyIntoADense) {
    KerasModel into;
    into.conv("a", 3, 8).layer("GlobalAveragePooling2D", "gap").dense("b", 8, 4);
    EXPECT_TRUE(suggested(plan(into), "a", "b"));
    KerasModel conv;
    conv.conv("a", 3, 8).layer("GlobalAveragePooling2D", "gap", {{"keepdims", true}});
    conv.conv("b", 8, 4);
    expectRejected(conv, "a", "b", "only directly before a Dense layer");
}

TEST_F(Topology, SequentialModelIsAChain) {
    for (auto style : {KerasModel::Style::Sequential, KerasModel::Style::SequentialList}) {
        KerasModel m;
        m.dense("a", 3, 8).activation("act", "relu").dense("b", 8, 8).dense("c", 8, 2);
        auto p = plan(m, false, style);
        ASSERT_EQ(p.suggested.size(), 1u);
        EXPECT_EQ(p.suggested[0].layers, (Names{"a", "b", "c"}));
        EXPECT_FALSE(p.suggested[0].guessed);
    }
}

TEST_F(Topology, Keras3InboundNodesAreRead) {
    KerasModel m;
    m.conv("a", 3, 8).batchNorm("bn", 8).layer("ReLU", "relu").conv("b", 8, 8);
    m.conv("c", 8, 8).layer("Add", "add", json::object(), Names{"c", "b"}).conv("d", 8, 4);
    auto p = plan(m, false, KerasModel::Style::Keras3);
    EXPECT_TRUE(suggested(p, "a", "b"));
    EXPECT_NE(reason(p, "b", "c").find("used by 2 layers"), std::string::npos);
    EXPECT_NE(reason(p, "c", "d").find("residual Add 'add'"), std::string::npos);
    auto l = build(dir_.file("model1.h5")).link("a", "b", false, nullptr);
    ASSERT_TRUE(l && l->batchNorm);
    EXPECT_EQ(l->batchNorm->name, "bn");
}

// --- ReLU6 --------------------------------------------------------------------------------------

TEST_F(Topology, Relu6IsAdmittedOnlyWhenAllowed) {
    KerasModel act;
    act.conv("a", 3, 8).activation("r6", "relu6").conv("b", 8, 4);
    KerasModel layer;
    layer.conv("a", 3, 8).layer("ReLU", "r6", {{"max_value", 6.0}}).conv("b", 8, 4);
    KerasModel own;
    own.conv("a", 3, 8, {{"activation", "relu6"}}).conv("b", 8, 4);
    for (const auto* m : {&act, &layer, &own}) {
        std::string path = dir_.file("r6_" + std::to_string(++files_) + ".h5");
        m->write(path);
        auto t = build(path);
        auto strict = t.suggest(false);
        EXPECT_FALSE(suggested(strict, "a", "b"));
        EXPECT_NE(reason(strict, "a", "b").find("ReLU6"), std::string::npos);
        std::string why;
        EXPECT_FALSE(t.link("a", "b", false, &why).has_value());
        EXPECT_NE(why.find("--allow-relu6"), std::string::npos);
        EXPECT_TRUE(suggested(t.suggest(true), "a", "b"));
        auto l = t.link("a", "b", true, nullptr);
        ASSERT_TRUE(l.has_value());
        EXPECT_EQ(l->relu6, Names{m == &own ? "a" : "r6"});
    }
}

// --- Every rejection reason ---------------------------------------------------------------------

TEST_F(Topology, FanOutIsRejected) {
    KerasModel m;
    m.conv("a", 3, 8).activation("relu", "relu").conv("b", 8, 4);
    m.conv("c", 8, 4, json::object(), Names{"relu"});
    m.layer("Concatenate", "cat", json::object(), Names{"b", "c"});
    auto p = plan(m);
    for (const char* second : {"b", "c"}) {
        EXPECT_FALSE(suggested(p, "a", second));
        EXPECT_NE(reason(p, "a", second).find("'relu' is used by 2 layers (branch or fan-out)"),
                  std::string::npos);
    }
}

TEST_F(Topology, ModelOutputInTheMiddleIsRejected) {
    KerasModel m;
    m.dense("a", 3, 8).dense("b", 8, 2).outputs({"b", "a"});
    expectRejected(m, "a", "b", "also a model output");
}

TEST_F(Topology, ResidualAddIsRejected) {
    KerasModel m;
    m.conv("p", 3, 8).conv("a", 8, 8).layer("Add", "add", json::object(), Names{"a", "p"});
    m.conv("b", 8, 4);
    expectRejected(m, "a", "b", "residual Add 'add'");
}

TEST_F(Topology, ConcatenateIsRejected) {
    KerasModel m;
    m.conv("a", 3, 4).conv("c", 3, 4, json::object(), Names{"input"});
    m.layer("Concatenate", "cat", json::object(), Names{"a", "c"}).conv("b", 8, 4);
    expectRejected(m, "a", "b", "Concatenate 'cat'");
}

TEST_F(Topology, MultiplyIsRejected) {
    KerasModel m;
    m.dense("a", 3, 4).dense("c", 3, 4, json::object(), Names{"input"});
    m.layer("Multiply", "mul", json::object(), Names{"a", "c"});
    m.dense("b", 4, 2);
    expectRejected(m, "a", "b", "'mul' (Multiply) combines");
}

TEST_F(Topology, FlattenBetweenIsRejected) {
    KerasModel m;
    m.conv("a", 3, 4).layer("Flatten", "flat").dense("b", 64, 2);
    expectRejected(m, "a", "b", "Flatten 'flat' between them mixes the channel axis");
}

TEST_F(Topology, ReshapeBetweenIsRejected) {
    KerasModel m;
    m.dense("a", 3, 4).layer("Reshape", "reshape", {{"target_shape", {2, 2}}}).dense("b", 4, 2);
    expectRejected(m, "a", "b", "Reshape 'reshape' between them");
}

TEST_F(Topology, BatchNormAfterOwnActivationIsRejected) {
    KerasModel m;
    m.conv("a", 3, 8, {{"activation", "relu"}}).batchNorm("bn", 8).conv("b", 8, 4);
    expectRejected(m, "a", "b", "batch norm 'bn' follows the 'relu' activation of 'a'");
}

TEST_F(Topology, BatchNormNotDirectlyAfterIsRejected) {
    KerasModel m;
    m.conv("a", 3, 8).activation("act", "relu").batchNorm("bn", 8).conv("b", 8, 4);
    expectRejected(m, "a", "b", "batch norm 'bn' does not directly follow 'a'");
}

TEST_F(Topology, NonHomogeneousActivationIsRejected) {
    KerasModel layer;
    layer.dense("a", 3, 8).activation("sig", "sigmoid").dense("b", 8, 2);
    expectRejected(layer, "a", "b", "activation 'sig' (sigmoid) is not positively homogeneous");
    KerasModel own;
    own.dense("a", 3, 8, {{"activation", "tanh"}}).dense("b", 8, 2);
    expectRejected(own, "a", "b", "'a' has activation 'tanh', which is not positively homogeneous");
    KerasModel elu;
    elu.dense("a", 3, 8).layer("ELU", "elu").dense("b", 8, 2);
    expectRejected(elu, "a", "b", "ELU 'elu' is not positively homogeneous");
}

TEST_F(Topology, TransposedConvolutionIsRejected) {
    KerasModel m;
    m.conv("a", 3, 8).layer("Conv2DTranspose", "up", {{"filters", 4}});
    m.weights({{"kernel", {3, 3, 4, 8}}, {"bias", {4}}});
    expectRejected(m, "a", "up", "layer 'up' cannot be equalized: transposed convolution");
}

TEST_F(Topology, GroupedConvolutionIsRejected) {
    KerasModel m;
    m.conv("a", 3, 8).layer("Conv2D", "g", {{"filters", 8}, {"groups", 2}});
    m.weights({{"kernel", {3, 3, 4, 8}}, {"bias", {8}}});
    expectRejected(m, "a", "g", "layer 'g' cannot be equalized: grouped convolution (groups=2)");
}

TEST_F(Topology, DepthMultiplierAboveOneIsRejected) {
    KerasModel m;
    m.conv("a", 3, 8).layer("DepthwiseConv2D", "dw", {{"depth_multiplier", 2}});
    m.weights({{"depthwise_kernel", {3, 3, 8, 2}}, {"bias", {16}}});
    expectRejected(m, "a", "dw",
                   "layer 'dw' cannot be equalized: depth multiplier 2 (only 1 can be equalized)");
}

TEST_F(Topology, DepthwiseAndSeparableConvolutionsChain) {
    KerasModel m;
    m.conv("a", 3, 8).layer("DepthwiseConv2D", "dw", {{"depth_multiplier", 1}});
    m.weights({{"depthwise_kernel", {3, 3, 8, 1}}, {"bias", {8}}});
    m.layer("SeparableConv2D", "sep", {{"depth_multiplier", 1}, {"filters", 4}});
    m.weights(
        {{"depthwise_kernel", {3, 3, 8, 1}}, {"pointwise_kernel", {1, 1, 8, 4}}, {"bias", {4}}});
    auto p = plan(m);
    ASSERT_EQ(p.suggested.size(), 1u);
    EXPECT_EQ(p.suggested[0].layers, (Names{"a", "dw", "sep/depthwise", "sep/pointwise"}));
}

TEST_F(Topology, UnsupportedLayerIsRejected) {
    KerasModel m;
    m.dense("a", 3, 8).layer("LSTM", "lstm", {{"units", 4}});
    m.weights({{"kernel", {8, 16}}, {"recurrent_kernel", {4, 16}}, {"bias", {16}}});
    expectRejected(m, "a", "lstm", "recurrent layers are not supported");
}

TEST_F(Topology, ChannelMismatchIsRejected) {
    KerasModel m;
    m.conv("a", 3, 8).conv("b", 6, 4);
    expectRejected(m, "a", "b", "channel mismatch");
}

TEST_F(Topology, UnknownLayerKindIsRejectedByName) {
    KerasModel m;
    m.dense("a", 3, 8).layer("LayerNormalization", "ln").dense("b", 8, 2);
    expectRejected(m, "a", "b", "'ln' is a layer of kind 'LayerNormalization'");
}

TEST_F(Topology, NestedModelIsAnalysedAndItsBoundaryRefused) {
    KerasModel inner;
    inner.dense("c1", 8, 8).dense("c2", 8, 8);
    json innerConfig = inner.config(KerasModel::Style::Keras2)["config"];
    KerasModel m;
    m.dense("a", 3, 8).layer("Functional", "inner", innerConfig).dense("b", 8, 2);
    // The nested model's weights live in its own group, named <inner layer>/<variable>.
    test::H5Writer w(dir_.file("nested.h5"));
    w.strings("/", "model_config", {m.config(KerasModel::Style::Keras2).dump()}, true, true);
    for (const auto& [layer, shape] :
         std::vector<std::pair<std::string, Shape>>{{"a/a/kernel:0", {3, 8}},
                                                    {"inner/c1/kernel:0", {8, 8}},
                                                    {"inner/c2/kernel:0", {8, 8}},
                                                    {"b/b/kernel:0", {8, 2}}})
        w.dataset("/model_weights/" + layer, shape,
                  test::randomValues(size_t(test::count(shape)), 1, 3));
    w.strings("/model_weights", "layer_names", {"a", "inner", "b"}, false);
    w.strings("/model_weights/a", "weight_names", {"a/kernel:0"}, false);
    w.strings("/model_weights/inner", "weight_names", {"c1/kernel:0", "c2/kernel:0"}, false);
    w.strings("/model_weights/b", "weight_names", {"b/kernel:0"}, false);
    H5Fflush(w.id(), H5F_SCOPE_GLOBAL);
    auto t = build(dir_.file("nested.h5"));
    auto p = t.suggest(false);
    ASSERT_EQ(p.suggested.size(), 1u);
    EXPECT_EQ(p.suggested[0].layers, (Names{"inner/c1", "inner/c2"}));
    const std::string boundary = "boundary of nested model 'inner'";
    EXPECT_NE(reason(p, "a", "inner/c1").find(boundary), std::string::npos);
    EXPECT_NE(reason(p, "inner/c2", "b").find(boundary), std::string::npos);
    std::string why;
    EXPECT_FALSE(t.link("a", "inner/c2", false, &why).has_value());
    EXPECT_NE(why.find(boundary), std::string::npos) << why;
}

TEST_F(Topology, Keras3FileWithAConfigUsesItsStorageNames) {
    // Keras 3 stores layers under names made from their class, not under the config's names.
    KerasModel m;
    m.dense("first", 3, 8).activation("act", "relu").dense("second", 8, 2);
    std::string path = dir_.file("k3.h5");
    test::H5Writer w(path);
    w.strings("/", "config", {m.config(KerasModel::Style::Keras3).dump()}, true, true);
    for (const auto& [var, shape] :
         std::vector<std::pair<std::string, Shape>>{{"dense/vars/0", {3, 8}},
                                                    {"dense/vars/1", {8}},
                                                    {"dense_1/vars/0", {8, 2}},
                                                    {"dense_1/vars/1", {2}}})
        w.dataset("/layers/" + var, shape, test::randomValues(size_t(test::count(shape)), 1, 4));
    H5Fflush(w.id(), H5F_SCOPE_GLOBAL);
    auto t = build(path);
    ASSERT_EQ(info_.format, core::Format::Keras3);
    EXPECT_TRUE(t.known());
    auto p = t.suggest(false);
    ASSERT_EQ(p.suggested.size(), 1u);
    EXPECT_EQ(p.suggested[0].layers, (Names{"dense", "dense_1"}));
}

TEST_F(Topology, UnreadableModelConfigNamesTheFile) {
    KerasModel m;
    m.dense("a", 3, 8);
    std::string path = dir_.file("bad.h5");
    m.writeWith(path, "{not json");
    auto info = core::inspectFile(path);
    try {
        core::Topology::build(info);
        FAIL() << "no error";
    } catch (const core::Error& e) {
        EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
}

// The group holding a Keras 2 file's layers is found once, with the format when the file is
// listed; the graph's batch norms are looked up under that group.
TEST_F(Topology, Keras2RootFoundWithTheFormat) {
    KerasModel m;
    m.conv("a", 3, 8).batchNorm("bn", 8).conv("b", 8, 4);
    std::string path = dir_.file("root.h5");
    m.write(path, KerasModel::Style::Keras2);
    auto info = core::inspectFile(path);
    EXPECT_EQ(info.kerasRoot, "/model_weights");
    auto link = core::Topology::build(info).link("a", "b", false, nullptr);
    ASSERT_TRUE(link && link->batchNorm);
    EXPECT_EQ(link->batchNorm->meanPath, "/model_weights/bn/bn/moving_mean:0");
    info.kerasRoot = "/elsewhere";  // the listing's root is the one the graph uses
    auto moved = core::Topology::build(info).link("a", "b", false, nullptr);
    EXPECT_FALSE(moved && moved->batchNorm);
}

// Both pair finders (Keras graphs and ONNX graphs) file their candidates the same way: the
// finder's own reason first, then the pair checks every pair passes, else admitted.
TEST(TopologyCandidates, FinderReasonThenPairCheckElseAdmitted) {
    core::ModelInfo info;
    auto layer = [](const std::string& name, std::vector<std::int64_t> shape) {
        core::LayerInfo l;
        l.name = name;
        l.kind = "Linear";
        l.shape = std::move(shape);
        return l;
    };
    info.layers = {layer("a", {8, 4}), layer("b", {3, 8}), layer("c", {2, 5})};
    info.indexLayers();
    core::Topology t;
    core::Link ab;
    ab.first = "a";
    ab.second = "b";
    t.addCandidate(info, ab, std::string("a merge joins the path"));
    t.addCandidate(info, ab, std::nullopt);
    core::Link bc;
    bc.first = "b";
    bc.second = "c";
    t.addCandidate(info, bc, std::nullopt);
    ASSERT_EQ(t.rejected_.size(), 2u);
    EXPECT_EQ(t.rejected_[0].reason, "a merge joins the path");
    EXPECT_EQ(t.rejected_[1].layers, (Names{"b", "c"}));
    EXPECT_EQ(t.rejected_[1].reason, *core::pairProblem(info, "b", "c"));
    ASSERT_EQ(t.links_.size(), 1u);
    EXPECT_EQ(t.links_[0].first, "a");
    EXPECT_EQ(t.links_[0].second, "b");
}

}  // namespace
