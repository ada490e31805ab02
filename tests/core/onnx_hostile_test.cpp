// Crafted ONNX models: graphs that break ONNX's own rules and layers whose attributes would make
// an equalized copy compute something else are refused with a sentence naming the file.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "cle/core/error.h"
#include "cle/core/layer_graph.h"
#include "cle/core/model.h"
#include "cle/core/topology.h"
#include "cli_runner.h"
#include "onnx_builder.h"
#include "test_util.h"

namespace {

using namespace cle;
using test::OnnxBuilder;

// conv1 -> Relu -> conv2, with `firstInput` as conv1's input.
void convReluConv(const std::string& path, const std::string& firstInput = "x",
                  const std::string& reluInput = "c1") {
    OnnxBuilder b;
    b.input("x", {1, 3, 8, 8});
    b.conv("conv1", firstInput, "c1", 4, 3, 3, 1);
    b.node("Relu", "relu", {reluInput}, {"r1"});
    b.conv("conv2", "r1", "y", 5, 4, 1, 2);
    b.output("y");
    b.save(path);
}

std::string errorOf(const std::string& path) {
    try {
        core::inspectFile(path);
    } catch (const core::Error& e) {
        return e.what();
    }
    return "";
}

TEST(OnnxHostile, CycleIsRefusedBeforeAnyWork) {
    test::TempDir dir;
    const auto in = dir.file("cycle.onnx");
    convReluConv(in, "y");  // conv1 reads conv2's output
    const auto what = errorOf(in);
    EXPECT_NE(what.find("cycle.onnx' is not a valid ONNX graph"), std::string::npos) << what;
    EXPECT_NE(what.find("'conv1' (Conv) reads 'y'"), std::string::npos) << what;
    EXPECT_NE(what.find("cycle"), std::string::npos) << what;
    auto r = test::runCle({"equalize", in, "-o", dir.file("out.onnx"), "--auto", "-q"});
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find("not a valid ONNX graph"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("checker"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir.file("out.onnx")));
}

TEST(OnnxHostile, MissingInputIsNamed) {
    test::TempDir dir;
    const auto in = dir.file("missing.onnx");
    convReluConv(in, "x", "nothere");
    const auto what = errorOf(in);
    EXPECT_NE(what.find("'relu' (Relu) reads 'nothere', which no node, graph input or "
                        "initializer provides"),
              std::string::npos)
        << what;
}

// Gemm(beta) -> BatchNormalization -> Relu -> Gemm: folding the batch norm into a bias that
// Gemm multiplies by beta would change the function.
void gemmBnGemm(const std::string& path, float alpha, float beta) {
    OnnxBuilder b;
    b.input("x", {2, 6});
    b.init("fc1.weight", {4, 6}, OnnxBuilder::random(24, 1));
    b.init("fc1.bias", {4}, OnnxBuilder::random(4, 2));
    auto& g1 = b.node("Gemm", "fc1", {"x", "fc1.weight", "fc1.bias"}, {"a"});
    OnnxBuilder::attr(g1, "transB", std::int64_t(1));
    OnnxBuilder::attr(g1, "alpha", alpha);
    OnnxBuilder::attr(g1, "beta", beta);
    b.init("bn.scale", {4}, {1.5f, 0.5f, 2.f, 1.f});
    b.init("bn.bias", {4}, {0.1f, -0.2f, 0.3f, 0.f});
    b.init("bn.mean", {4}, {0.05f, -0.1f, 0.2f, 0.f});
    b.init("bn.var", {4}, {1.2f, 0.8f, 2.f, 0.5f});
    b.node("BatchNormalization", "bn", {"a", "bn.scale", "bn.bias", "bn.mean", "bn.var"}, {"n"});
    b.node("Relu", "relu", {"n"}, {"r"});
    b.init("fc2.weight", {3, 4}, OnnxBuilder::random(12, 3));
    auto& g2 = b.node("Gemm", "fc2", {"r", "fc2.weight"}, {"y"});
    OnnxBuilder::attr(g2, "transB", std::int64_t(1));
    b.output("y");
    b.save(path);
}

TEST(OnnxHostile, GemmWithScaledBiasIsNotEqualized) {
    test::TempDir dir;
    for (auto [alpha, beta] : {std::pair{1.f, 0.5f}, std::pair{2.f, 1.f}}) {
        const auto in = dir.file("gemm.onnx");
        gemmBnGemm(in, alpha, beta);
        auto info = core::inspectFile(in);
        ASSERT_EQ(info.layers.size(), 2u);
        EXPECT_FALSE(info.layers[0].supported);
        EXPECT_NE(info.layers[0].unsupportedReason.find("alpha or beta"), std::string::npos);
        auto r =
            test::runCle({"equalize", in, "-o", dir.file("out.onnx"), "--auto", "-q", "--force"});
        EXPECT_NE(r.code, 0) << r.out;
    }
    // alpha = beta = 1 is the plain layer: it is paired and keeps the function.
    const auto in = dir.file("plain.onnx");
    gemmBnGemm(in, 1.f, 1.f);
    EXPECT_TRUE(core::inspectFile(in).layers[0].supported);
    const auto out = dir.file("plain_eq.onnx");
    ASSERT_EQ(test::runCle({"equalize", in, "-o", out, "--auto", "-q"}).code, 0);
    EXPECT_EQ(test::runCle({"verify", in, out}).code, 0);
}

// Conv -> BatchNormalization (variance `var` in channel 0, `epsilon`) -> Relu -> Conv.
void convBnReluConv(const std::string& path, float var, float epsilon) {
    OnnxBuilder b;
    b.input("x", {1, 3, 8, 8});
    b.conv("conv1", "x", "c1", 4, 3, 3, 1);
    b.init("bn.scale", {4}, {1.5f, 0.5f, 2.f, 1.f});
    b.init("bn.bias", {4}, {0.1f, -0.2f, 0.3f, 0.f});
    b.init("bn.mean", {4}, {0.05f, -0.1f, 0.2f, 0.f});
    b.init("bn.var", {4}, {var, 0.8f, 2.f, 0.5f});
    auto& bn = b.node("BatchNormalization", "bn",
                      {"c1", "bn.scale", "bn.bias", "bn.mean", "bn.var"}, {"b1"});
    OnnxBuilder::attr(bn, "epsilon", epsilon);
    b.node("Relu", "relu", {"b1"}, {"r1"});
    b.conv("conv2", "r1", "y", 5, 4, 1, 2);
    b.output("y");
    b.save(path);
}

TEST(OnnxHostile, BatchNormWithoutPositiveVarianceNamesFileAndChannel) {
    test::TempDir dir;
    const auto in = dir.file("bn.onnx"), out = dir.file("out.onnx");
    for (auto [var, eps] :
         {std::pair{-0.5f, 1e-5f}, std::pair{1.f, -5.f}, std::pair{std::nanf(""), 1e-5f}}) {
        convBnReluConv(in, var, eps);
        auto r = test::runCle({"equalize", in, "-o", out, "--auto", "-q", "--absorb-bias"});
        EXPECT_NE(r.code, 0);
        EXPECT_NE(r.err.find("batch norm 'bn' of '" + in + "' cannot be folded"), std::string::npos)
            << r.err;
        EXPECT_NE(r.err.find("not a positive number in channel 0"), std::string::npos) << r.err;
        EXPECT_FALSE(std::filesystem::exists(out));
    }
}

TEST(OnnxHostile, OutputSuffixMustMatchTheFormat) {
    test::TempDir dir;
    const auto in = dir.file("m.onnx");
    convReluConv(in);
    // An ONNX model named .h5 could not be opened again, nor an HDF5 file named .onnx.
    auto r = test::runCle({"equalize", in, "-o", dir.file("out.h5"), "--auto", "-q"});
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("give it the suffix .onnx"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir.file("out.h5")));
    const auto keras = test::samplePath("tiny_face_detector_keras.h5");
    r = test::runCle({"equalize", keras, "-o", dir.file("out.onnx"), "--auto", "-q"});
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("which is not an ONNX model"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir.file("out.onnx")));
    // The suffix in any case is fine.
    EXPECT_EQ(test::runCle({"equalize", in, "-o", dir.file("out.ONNX"), "--auto", "-q"}).code, 0);
}

// conv1 -> `mid` -> conv2, conv1 with extra attributes set by `edit`.
template <typename Edit>
std::string evaluationError(const std::string& path, Edit edit) {
    OnnxBuilder b;
    b.input("x", {1, 3, 8, 8});
    b.conv("conv1", "x", "c1", 4, 3, 3, 1);
    edit(b);
    b.conv("conv2", "r1", "y", 5, 4, 1, 2);
    b.output("y");
    b.save(path);
    auto r = test::runCle({"verify", path, path, "--samples", "2"});
    EXPECT_EQ(r.code, 1) << r.out;
    return r.err;
}

void setInts(onnx::NodeProto& n, const std::string& name, const std::vector<std::int64_t>& v) {
    for (auto& a : *n.mutable_attribute())
        if (a.name() == name) {
            a.clear_ints();
            for (auto x : v) a.add_ints(x);
            return;
        }
    OnnxBuilder::attr(n, name, v);
}

// Zero strides divided by zero and negative pads wrote outside the padded tensor.
TEST(OnnxHostile, WindowsAndPadsOutOfRangeAreErrorsNotCrashes) {
    test::TempDir dir;
    const auto in = dir.file("m.onnx");
    auto conv1 = [](OnnxBuilder& b) -> onnx::NodeProto& {
        return *b.model().mutable_graph()->mutable_node(0);
    };
    auto err = evaluationError(in, [&](OnnxBuilder& b) {
        setInts(conv1(b), "strides", {0, 1});
        b.node("Relu", "relu", {"c1"}, {"r1"});
    });
    EXPECT_NE(err.find("'conv1' has a window size, stride or dilation below 1"), std::string::npos)
        << err;
    err = evaluationError(in, [&](OnnxBuilder& b) {
        setInts(conv1(b), "pads", {-1, -1, -1, -1});
        b.node("Relu", "relu", {"c1"}, {"r1"});
    });
    EXPECT_NE(err.find("negative padding"), std::string::npos) << err;
    err = evaluationError(in, [&](OnnxBuilder& b) {
        b.init("pads", {8}, {});
        auto& t = *b.model().mutable_graph()->mutable_initializer(
            b.model().graph().initializer_size() - 1);
        t.set_data_type(onnx::TensorProto::INT64);
        for (std::int64_t v : {0, 0, -1, -1, 0, 0, -1, -1}) t.add_int64_data(v);
        t.clear_raw_data();
        b.node("Pad", "pad", {"c1", "pads"}, {"r1"});
    });
    EXPECT_NE(err.find("'pad' (Pad) has a negative padding"), std::string::npos) << err;
    err = evaluationError(in, [&](OnnxBuilder& b) {
        auto& pool = b.node("MaxPool", "pool", {"c1"}, {"r1"});
        OnnxBuilder::attr(pool, "kernel_shape", std::vector<std::int64_t>{2, 2});
        OnnxBuilder::attr(pool, "strides", std::vector<std::int64_t>{0, 0});
    });
    EXPECT_NE(err.find("'pool' has a window size, stride or dilation below 1"), std::string::npos)
        << err;
}

// Joining tensors whose other axes differ made a tensor smaller than its shape.
TEST(OnnxHostile, ConcatOfMismatchedShapesIsAnError) {
    test::TempDir dir;
    const auto in = dir.file("m.onnx");
    auto err = evaluationError(in, [&](OnnxBuilder& b) {
        b.conv("convb", "x", "cb", 5, 3, 3, 3);
        auto& cat = b.node("Concat", "cat", {"c1", "cb"}, {"r1"});
        OnnxBuilder::attr(cat, "axis", std::int64_t(2));
    });
    EXPECT_NE(err.find("Concatenate 'cat' gets tensors of other shapes"), std::string::npos) << err;
}

// Equalizing rewrites a layer's weights and bias and folding rewrites a batch norm's tensors:
// a tensor another node reads as well would change that node's result.
TEST(OnnxHostile, TensorsReadByOtherNodesAreNotRewritten) {
    test::TempDir dir;
    const auto in = dir.file("m.onnx");
    {
        OnnxBuilder b;  // conv1's bias is also added to the output
        b.input("x", {1, 3, 8, 8});
        b.conv("conv1", "x", "c1", 4, 3, 3, 1);
        b.node("Relu", "relu", {"c1"}, {"r1"});
        b.conv("conv2", "r1", "z", 4, 4, 1, 2);
        b.node("Add", "add", {"z", "conv1.bias"}, {"y"});
        b.output("y");
        b.save(in);
    }
    auto info = core::inspectFile(in);
    EXPECT_FALSE(info.layers[0].supported);
    EXPECT_NE(info.layers[0].unsupportedReason.find("which node 'add' reads too"),
              std::string::npos)
        << info.layers[0].unsupportedReason;
    EXPECT_NE(test::runCle({"equalize", in, "-o", dir.file("a.onnx"), "--auto", "-q"}).code, 0);
    {
        OnnxBuilder b;  // the batch norm's scale also multiplies the output
        b.input("x", {1, 3, 8, 8});
        b.conv("conv1", "x", "c1", 4, 3, 3, 1);
        b.init("bn.scale", {4}, {1.5f, 0.5f, 2.f, 1.f});
        b.init("bn.bias", {4}, {0.1f, -0.2f, 0.3f, 0.f});
        b.init("bn.mean", {4}, {0.05f, -0.1f, 0.2f, 0.f});
        b.init("bn.var", {4}, {1.2f, 0.8f, 2.f, 0.5f});
        b.node("BatchNormalization", "bn", {"c1", "bn.scale", "bn.bias", "bn.mean", "bn.var"},
               {"b1"});
        b.node("Relu", "relu", {"b1"}, {"r1"});
        b.conv("conv2", "r1", "z", 4, 4, 1, 2);
        b.node("Mul", "mul", {"z", "bn.scale"}, {"y"});
        b.output("y");
        b.save(in);
    }
    auto plan = core::Topology::build(core::inspectFile(in)).suggest(false);
    EXPECT_TRUE(plan.suggested.empty());
    ASSERT_EQ(plan.rejected.size(), 1u);
    EXPECT_NE(plan.rejected[0].reason.find("shares its tensor 'bn.scale' with node 'mul'"),
              std::string::npos)
        << plan.rejected[0].reason;
}

TEST(OnnxHostile, HelpNamesOnnxModels) {
    auto r = test::runCle({"--help"});
    EXPECT_EQ(r.code, 0);
    EXPECT_NE((r.out + r.err).find("HDF5 files and ONNX models"), std::string::npos) << r.out;
}

// conv1 -> Relu -> conv2 -> Relu -> conv3 with every weight in external data; conv2's bytes
// start `shift` bytes into conv1's (0: the same bytes).
void aliasedExternalWeights(const std::string& dir, const std::string& path, long shift) {
    OnnxBuilder b;
    b.input("x", {1, 4, 8, 8});
    b.conv("conv1", "x", "c1", 4, 4, 3, 1, 1, false);
    b.node("Relu", "relu1", {"c1"}, {"r1"});
    b.conv("conv2", "r1", "c2", 4, 4, 3, 2, 1, false);
    b.node("Relu", "relu2", {"c2"}, {"r2"});
    b.conv("conv3", "r2", "y", 3, 4, 3, 3, 1, false);
    b.output("y");
    std::string data;
    long previous = 0;
    for (auto& t : *b.model().mutable_graph()->mutable_initializer()) {
        const long offset = t.name() == "conv2.weight" ? previous + shift : long(data.size());
        previous = long(data.size());
        auto* loc = t.add_external_data();
        loc->set_key("location");
        loc->set_value("w.data");
        auto* off = t.add_external_data();
        off->set_key("offset");
        off->set_value(std::to_string(offset));
        data += t.raw_data();
        t.clear_raw_data();
        t.set_data_location(onnx::TensorProto::EXTERNAL);
    }
    std::ofstream(dir + "/w.data", std::ios::binary) << data;
    b.save(path);
}

// Rewriting one of two tensors stored in the same bytes rewrote the other.
TEST(OnnxHostile, ExternalDataSharedByTwoLayersIsNotRewritten) {
    test::TempDir dir;
    const auto in = dir.file("m.onnx");
    for (long shift : {0L, 64L}) {
        aliasedExternalWeights(dir.file(""), in, shift);
        auto info = core::inspectFile(in);
        ASSERT_EQ(info.layers.size(), 3u);
        EXPECT_FALSE(info.layers[0].supported);
        EXPECT_FALSE(info.layers[1].supported);
        EXPECT_NE(info.layers[1].unsupportedReason.find("shares bytes with tensor 'conv1.weight'"),
                  std::string::npos)
            << info.layers[1].unsupportedReason;
        EXPECT_TRUE(info.layers[2].supported);
        EXPECT_NE(test::runCle({"equalize", in, "-o", dir.file("out.onnx"), "--auto", "-q"}).code,
                  0);
    }
}

}  // namespace
