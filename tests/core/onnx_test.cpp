// ONNX models: layers, pairs and rejections from the node graph, export (only the changed
// tensors differ, the result passes ONNX's checker) and function (the evaluator).
#include <gtest/gtest.h>
#include <onnx/checker.h>

#include <filesystem>
#include <map>

#include "cle/core/error.h"
#include "cle/core/evaluator.h"
#include "cle/core/layer_graph.h"
#include "cle/core/model.h"
#include "cle/core/topology.h"
#include "cle/core/verification.h"
#include "cli_runner.h"
#include "onnx_builder.h"
#include "test_util.h"

namespace {

using namespace cle;
using test::OnnxBuilder;

// Conv -> BatchNormalization -> Relu -> Conv.
void convBnReluConv(const std::string& path, bool firstBias = true) {
    OnnxBuilder b;
    b.input("x", {1, 3, 8, 8});
    b.conv("conv1", "x", "c1", 4, 3, 3, 1, 1, firstBias);
    b.init("bn.scale", {4}, {1.5f, 0.5f, 2.f, 1.f});
    b.init("bn.bias", {4}, {0.1f, -0.2f, 0.3f, 0.f});
    b.init("bn.mean", {4}, {0.05f, -0.1f, 0.2f, 0.f});
    b.init("bn.var", {4}, {1.2f, 0.8f, 2.f, 0.5f});
    auto& bn = b.node("BatchNormalization", "bn",
                      {"c1", "bn.scale", "bn.bias", "bn.mean", "bn.var"}, {"b1"});
    OnnxBuilder::attr(bn, "epsilon", 1e-3f);
    b.node("Relu", "relu", {"b1"}, {"r1"});
    b.conv("conv2", "r1", "y", 5, 4, 1, 2);
    b.output("y");
    b.save(path);
}

// Tensor name -> serialized tensor, for initializers and Constant values.
std::map<std::string, std::string> tensors(const onnx::ModelProto& m) {
    std::map<std::string, std::string> out;
    for (const auto& t : m.graph().initializer()) out[t.name()] = t.SerializeAsString();
    for (const auto& n : m.graph().node())
        for (const auto& a : n.attribute())
            if (a.has_t()) out[n.output(0)] = a.t().SerializeAsString();
    return out;
}

std::vector<std::string> changed(const std::string& a, const std::string& b) {
    auto x = tensors(test::readOnnx(a)), y = tensors(test::readOnnx(b));
    std::vector<std::string> names;
    for (const auto& [name, bytes] : x)
        if (y[name] != bytes) names.push_back(name);
    return names;
}

std::string fileBytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), {});
}

core::Verification verify(const std::string& a, const std::string& b) {
    core::VerifyOptions o;
    o.samples = 4;
    return core::verifyFiles(a, b, o);
}

TEST(Onnx, ConvBatchNormReluConvPairsFoldsAndExports) {
    test::TempDir dir;
    const auto in = dir.file("m.onnx"), out = dir.file("eq.onnx");
    convBnReluConv(in);
    auto info = core::inspectFile(in);
    EXPECT_EQ(info.format, core::Format::Onnx);
    ASSERT_EQ(info.layers.size(), 2u);
    EXPECT_EQ(info.layers[0].name, "conv1");
    EXPECT_EQ(info.layers[0].shape, (std::vector<std::int64_t>{4, 3, 3, 3}));
    auto topology = core::Topology::build(info);
    auto plan = topology.suggest(false);
    ASSERT_EQ(plan.suggested.size(), 1u);
    EXPECT_EQ(plan.suggested[0].layers, (std::vector<std::string>{"conv1", "conv2"}));
    EXPECT_FALSE(plan.suggested[0].guessed);
    const auto* bn = topology.batchNormAfter("conv1");
    ASSERT_TRUE(bn);
    EXPECT_EQ(bn->name, "bn");
    EXPECT_FLOAT_EQ(float(bn->epsilon), 1e-3f);

    auto r = test::runCle({"equalize", in, "-o", out, "--auto", "-q"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NO_THROW(onnx::checker::check_model(out));
    auto names = changed(in, out);
    EXPECT_EQ(names, (std::vector<std::string>{"bn.bias", "bn.mean", "bn.scale", "bn.var",
                                               "conv1.bias", "conv1.weight", "conv2.weight"}));
    auto a = test::readOnnx(in), c = test::readOnnx(out);
    ASSERT_EQ(a.graph().node_size(), c.graph().node_size());
    for (int i = 0; i < a.graph().node_size(); ++i)
        EXPECT_EQ(a.graph().node(i).SerializeAsString(), c.graph().node(i).SerializeAsString());
    EXPECT_EQ(c.doc_string(), "a test model");
    EXPECT_EQ(c.metadata_props(0).value(), "tests");
    // The batch norm is the identity: scale 1, mean 0, variance 1 - eps; its bias went to conv1.
    auto scale = core::readDataset(out, "bn.scale"), var = core::readDataset(out, "bn.var");
    auto beta = core::readDataset(out, "bn.bias");
    for (int k = 0; k < 4; ++k) {
        EXPECT_EQ(scale.values[size_t(k)], 1.f);
        EXPECT_FLOAT_EQ(var.values[size_t(k)], 1.f - 1e-3f);
        EXPECT_EQ(beta.values[size_t(k)], 0.f);
    }
    auto v = verify(in, out);
    EXPECT_TRUE(v.preserved);
    EXPECT_LT(v.maxRelativeChange, 1e-5);
}

TEST(Onnx, FoldedBiasGoesToTheBatchNormWhenTheLayerHasNone) {
    test::TempDir dir;
    const auto in = dir.file("m.onnx"), out = dir.file("eq.onnx");
    convBnReluConv(in, false);
    ASSERT_EQ(test::runCle({"equalize", in, "-o", out, "--auto", "-q"}).code, 0);
    auto beta = core::readDataset(out, "bn.bias");
    EXPECT_NE(beta.values, (std::vector<float>{0.1f, -0.2f, 0.3f, 0.f}));
    EXPECT_LT(verify(in, out).maxRelativeChange, 1e-5);
}

// Conv -> Clip(0, 6) -> depthwise Conv -> Conv.
void reluSixChain(const std::string& path, int opset) {
    OnnxBuilder b(opset);
    b.input("x", {1, 3, 10, 10});
    b.conv("conv1", "x", "c1", 6, 3, 3, 3);
    if (opset >= 11) {
        b.init("zero", {}, {0.f});
        b.init("six", {}, {6.f});
        b.node("Clip", "clip", {"c1", "zero", "six"}, {"r1"});
    } else {
        auto& clip = b.node("Clip", "clip", {"c1"}, {"r1"});
        OnnxBuilder::attr(clip, "min", 0.f);
        OnnxBuilder::attr(clip, "max", 6.f);
    }
    b.conv("dw", "r1", "d1", 6, 6, 3, 4, 6);
    b.conv("conv3", "d1", "y", 4, 6, 1, 5);
    b.output("y");
    b.save(path);
}

TEST(Onnx, ReluSixNeedsAllowAndIsExportedWithoutMax) {
    for (int opset : {13, 9}) {
        SCOPED_TRACE(opset);
        test::TempDir dir;
        const auto in = dir.file("m.onnx"), out = dir.file("eq.onnx");
        reluSixChain(in, opset);
        auto info = core::inspectFile(in);
        ASSERT_TRUE(info.find("dw"));
        EXPECT_TRUE(info.find("dw")->depthwise);
        auto topology = core::Topology::build(info);
        auto strict = topology.suggest(false);
        ASSERT_EQ(strict.suggested.size(), 1u);
        EXPECT_EQ(strict.suggested[0].layers, (std::vector<std::string>{"dw", "conv3"}));
        ASSERT_EQ(strict.rejected.size(), 1u);
        EXPECT_NE(strict.rejected[0].reason.find("--allow-relu6"), std::string::npos);
        auto relaxed = topology.suggest(true);
        ASSERT_EQ(relaxed.suggested.size(), 1u);
        EXPECT_EQ(relaxed.suggested[0].layers, (std::vector<std::string>{"conv1", "dw", "conv3"}));

        ASSERT_EQ(test::runCle({"equalize", in, "-o", out, "--auto", "--allow-relu6", "-q"}).code,
                  0);
        EXPECT_NO_THROW(onnx::checker::check_model(out));
        auto m = test::readOnnx(out);
        const auto& clip = m.graph().node(opset >= 11 ? 1 : 1);
        EXPECT_EQ(clip.op_type(), "Clip");
        if (opset >= 11)
            EXPECT_EQ(clip.input_size(), 2);
        else
            for (const auto& a : clip.attribute()) EXPECT_NE(a.name(), "max");
        auto v = verify(in, out);
        ASSERT_TRUE(v.relaxationMatchedChange);
        EXPECT_LT(*v.relaxationMatchedChange, 1e-5);
    }
}

TEST(Onnx, GemmHonoursTransB) {
    test::TempDir dir;
    const auto in = dir.file("m.onnx"), out = dir.file("eq.onnx");
    OnnxBuilder b;
    b.input("x", {1, 6});
    b.init("fc1.weight", {8, 6}, OnnxBuilder::random(48, 7, -2, 2));
    b.init("fc1.bias", {8}, OnnxBuilder::random(8, 8));
    OnnxBuilder::attr(b.node("Gemm", "", {"x", "fc1.weight", "fc1.bias"}, {"h"}), "transB",
                      std::int64_t(1));
    b.node("Relu", "relu", {"h"}, {"r"});
    b.init("fc2.weight", {8, 3}, OnnxBuilder::random(24, 9));
    b.node("Gemm", "fc2", {"r", "fc2.weight"}, {"y"});
    b.output("y");
    b.save(in);
    auto info = core::inspectFile(in);
    ASSERT_TRUE(info.find("fc1"));  // named after its weight, as the PyTorch state dict
    EXPECT_EQ(info.find("fc1")->outChannels(), 8);
    EXPECT_EQ(info.find("fc2")->inChannels(), 8);
    EXPECT_EQ(info.find("fc2")->outChannels(), 3);
    auto plan = core::Topology::build(info).suggest(false);
    ASSERT_EQ(plan.suggested.size(), 1u);
    ASSERT_EQ(test::runCle({"equalize", in, "-o", out, "--auto", "-q"}).code, 0);
    EXPECT_EQ(changed(in, out), (std::vector<std::string>{"fc1.bias", "fc1.weight", "fc2.weight"}));
    EXPECT_LT(verify(in, out).maxRelativeChange, 1e-5);
}

TEST(Onnx, ConstantNodeWeightsInFloat16) {
    test::TempDir dir;
    const auto in = dir.file("m.onnx"), out = dir.file("eq.onnx");
    OnnxBuilder b;
    b.input("x", {1, 2, 6, 6});
    b.conv("conv1", "x", "c1", 4, 2, 3, 11, 1, true, true, true);
    b.node("Relu", "relu", {"c1"}, {"r1"});
    b.conv("conv2", "r1", "y", 3, 4, 3, 12, 1, true, true, true);
    b.output("y");
    b.save(in);
    auto info = core::inspectFile(in);
    ASSERT_EQ(info.layers.size(), 2u);
    EXPECT_EQ(info.layers[0].dtype, core::DType::Float16);
    EXPECT_EQ(info.layers[0].weightPath, "conv1.weight");
    ASSERT_EQ(test::runCle({"equalize", in, "-o", out, "--auto", "-q"}).code, 0);
    auto m = test::readOnnx(out);
    EXPECT_EQ(m.graph().node(0).attribute(0).t().data_type(), onnx::TensorProto::FLOAT16);
    EXPECT_EQ(changed(in, out),
              (std::vector<std::string>{"conv1.bias", "conv1.weight", "conv2.weight"}));
    EXPECT_LT(verify(in, out).maxRelativeChange, 1e-2);  // float16 rounding of the new weights
}

TEST(Onnx, ExternalDataIsReadAndWrittenBesideTheOutput) {
    test::TempDir dir;
    const auto in = dir.file("m.onnx");
    convBnReluConv(in);
    auto m = test::readOnnx(in);
    std::string data;
    for (auto& t : *m.mutable_graph()->mutable_initializer()) {
        if (t.name().find("weight") == std::string::npos) continue;
        auto* loc = t.add_external_data();
        loc->set_key("location");
        loc->set_value("m.onnx.data");
        auto* off = t.add_external_data();
        off->set_key("offset");
        off->set_value(std::to_string(data.size()));
        data += t.raw_data();
        t.clear_raw_data();
        t.set_data_location(onnx::TensorProto::EXTERNAL);
    }
    std::ofstream(dir.file("m.onnx.data"), std::ios::binary) << data;
    std::ofstream os(in, std::ios::binary);
    m.SerializeToOstream(&os);
    os.close();
    auto loaded = core::loadModel(in);
    ASSERT_TRUE(loaded.layers[0].info.supported) << loaded.layers[0].info.unsupportedReason;
    std::filesystem::create_directory(dir.file("out"));
    const auto out = dir.file("out/eq.onnx");
    auto r = test::runCle({"equalize", in, "-o", out, "--auto", "-q"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(std::filesystem::exists(dir.file("out/eq.onnx.data")));
    EXPECT_NO_THROW(onnx::checker::check_model(out));
    EXPECT_LT(verify(in, out).maxRelativeChange, 1e-5);
    EXPECT_EQ(changed(in, out).size(), 7u);  // locations and the changed weights
    // An output whose data file would be the input's own is refused, even with --force.
    std::filesystem::rename(dir.file("m.onnx.data"), dir.file("x.onnx.data"));
    auto m2 = test::readOnnx(in);
    for (auto& t : *m2.mutable_graph()->mutable_initializer())
        for (auto& e : *t.mutable_external_data())
            if (e.key() == "location") e.set_value("x.onnx.data");
    std::ofstream os2(in, std::ios::binary);
    m2.SerializeToOstream(&os2);
    os2.close();
    const std::string before = fileBytes(dir.file("x.onnx.data"));
    auto clash =
        test::runCle({"equalize", in, "-o", dir.file("x.onnx"), "--auto", "-q", "--force"});
    EXPECT_EQ(clash.code, 1);
    EXPECT_NE(clash.err.find("refusing to write over the input file"), std::string::npos)
        << clash.err;
    EXPECT_EQ(fileBytes(dir.file("x.onnx.data")), before);
}

TEST(Onnx, ExternalDataOutsideTheFolderIsRefused) {
    for (std::string location : {"../secret.bin", "/etc/hostname"}) {
        test::TempDir dir;
        const auto in = dir.file("m.onnx");
        convBnReluConv(in);
        auto m = test::readOnnx(in);
        auto& t = *m.mutable_graph()->mutable_initializer(0);  // conv1.weight
        auto* loc = t.add_external_data();
        loc->set_key("location");
        loc->set_value(location);
        t.clear_raw_data();
        t.set_data_location(onnx::TensorProto::EXTERNAL);
        std::ofstream os(in, std::ios::binary);
        m.SerializeToOstream(&os);
        os.close();
        auto info = core::inspectFile(in);
        ASSERT_FALSE(info.layers[0].supported);
        EXPECT_NE(info.layers[0].unsupportedReason.find("folder"), std::string::npos)
            << info.layers[0].unsupportedReason;
    }
}

TEST(Onnx, RejectionsNameTheirReason) {
    test::TempDir dir;
    const auto in = dir.file("m.onnx");
    OnnxBuilder b;
    b.input("x", {1, 4, 6, 6});
    b.conv("conv1", "x", "c1", 4, 4, 3, 1);
    b.node("Relu", "relu", {"c1"}, {"r1"});
    b.conv("conv2", "r1", "c2", 4, 4, 3, 2);
    b.node("Add", "add", {"r1", "c2"}, {"a"});
    b.conv("conv3", "a", "c3", 4, 4, 3, 3);
    b.conv("grouped", "c3", "g", 4, 4, 3, 4, 2);
    b.node("Flatten", "flat", {"g"}, {"f"});
    b.init("fc.weight", {3, 144}, OnnxBuilder::random(432, 5));
    OnnxBuilder::attr(b.node("Gemm", "fc", {"f", "fc.weight"}, {"y"}), "transB", std::int64_t(1));
    b.output("y");
    b.save(in);
    auto info = core::inspectFile(in);
    ASSERT_TRUE(info.find("grouped"));
    EXPECT_EQ(info.find("grouped")->unsupportedReason, "grouped convolution (groups=2)");
    auto plan = core::Topology::build(info).suggest(true);
    EXPECT_TRUE(plan.suggested.empty());
    std::map<std::string, std::string> why;
    for (const auto& r : plan.rejected) why[r.layers[0] + ">" + r.layers[1]] = r.reason;
    // conv1 and conv2 feed conv2 and conv3 through the Add: a region equalizes them.
    EXPECT_EQ(why["conv1>conv2"],
              "the output of 'relu' is used by 2 layers (branch or fan-out); "
              "equalized in a region instead");
    EXPECT_EQ(why["conv2>conv3"],
              "residual Add 'add' joins another branch to the path; "
              "equalized in a region instead");
    EXPECT_EQ(why["conv3>grouped"],
              "layer 'grouped' cannot be equalized: grouped convolution (groups=2)");
    EXPECT_EQ(why["grouped>fc"],
              "layer 'grouped' cannot be equalized: grouped convolution (groups=2)");
    // The evaluator runs it all.
    auto model = core::loadModel(in);
    auto net = core::Network::load(in, model);
    EXPECT_EQ(net.inputs()[0].shape, (std::vector<std::int64_t>{4, 6, 6}));
    auto graph = core::readLayerGraph(info);
    ASSERT_TRUE(graph);
    EXPECT_GE(graph->find("conv3"), 0);
    EXPECT_EQ(graph->nodes.size(), 8u);
}

TEST(Onnx, FlattenEndsAChain) {
    test::TempDir dir;
    const auto in = dir.file("m.onnx");
    OnnxBuilder b;
    b.input("x", {1, 2, 4, 4});
    b.conv("conv", "x", "c", 3, 2, 3, 1);
    b.node("Flatten", "flat", {"c"}, {"f"});
    b.init("fc.weight", {48, 2}, OnnxBuilder::random(96, 5));
    b.node("MatMul", "fc", {"f", "fc.weight"}, {"y"});
    b.output("y");
    b.save(in);
    auto plan = core::Topology::build(core::inspectFile(in)).suggest(true);
    ASSERT_EQ(plan.rejected.size(), 1u);
    EXPECT_EQ(plan.rejected[0].reason,
              "Flatten 'flat' between them mixes the channel axis with other axes");
}

TEST(Onnx, ClassifierHeadPairsAcrossGlobalPoolingAndFlatten) {
    test::TempDir dir;
    const auto in = dir.file("m.onnx"), out = dir.file("eq.onnx");
    OnnxBuilder b;
    b.input("x", {1, 3, 8, 8});
    b.conv("conv", "x", "c", 6, 3, 3, 1);
    auto& pool = b.node("MaxPool", "pool", {"c"}, {"m"});
    OnnxBuilder::attr(pool, "kernel_shape", std::vector<std::int64_t>{2, 2});
    OnnxBuilder::attr(pool, "strides", std::vector<std::int64_t>{2, 2});
    b.node("Relu", "relu", {"m"}, {"r"});
    b.node("GlobalAveragePool", "gap", {"r"}, {"g"});
    b.node("Flatten", "flat", {"g"}, {"f"});
    b.init("fc.weight", {4, 6}, OnnxBuilder::random(24, 5));
    OnnxBuilder::attr(b.node("Gemm", "fc", {"f", "fc.weight"}, {"y"}), "transB", std::int64_t(1));
    b.output("y");
    b.save(in);
    auto plan = core::Topology::build(core::inspectFile(in)).suggest(false);
    ASSERT_EQ(plan.suggested.size(), 1u) << (plan.rejected.empty() ? "" : plan.rejected[0].reason);
    EXPECT_EQ(plan.suggested[0].layers, (std::vector<std::string>{"conv", "fc"}));
    ASSERT_EQ(test::runCle({"equalize", in, "-o", out, "--auto", "-q"}).code, 0);
    EXPECT_LT(verify(in, out).maxRelativeChange, 1e-5);
}

TEST(Onnx, HostileFilesAreErrorsNotCrashes) {
    test::TempDir dir;
    const auto bad = dir.file("bad.onnx");
    std::ofstream(bad) << "this is not a protobuf";
    EXPECT_THROW(core::inspectFile(bad), core::Error);
    // Dimensions that claim more values than the tensor stores.
    const auto in = dir.file("m.onnx");
    convBnReluConv(in);
    auto m = test::readOnnx(in);
    m.mutable_graph()->mutable_initializer(0)->set_dims(0, 1 << 30);
    std::ofstream os(in, std::ios::binary);
    m.SerializeToOstream(&os);
    os.close();
    auto info = core::inspectFile(in);
    EXPECT_FALSE(info.layers[0].supported);
    EXPECT_NE(info.layers[0].unsupportedReason.find("claims"), std::string::npos);
}

TEST(Onnx, BlazeFacePairsAndEvaluation) {
    const auto path = test::dataPath("onnx/blazeface_front_128.onnx");
    auto info = core::inspectFile(path);
    EXPECT_EQ(info.layers.size(), 37u);
    int depthwise = 0;
    for (const auto& l : info.layers) depthwise += l.depthwise;
    EXPECT_EQ(depthwise, 16);
    auto plan = core::Topology::build(info).suggest(false);
    EXPECT_EQ(plan.suggested.size(), 16u);
    // The evaluator against a NumPy reading of the ONNX operators on the same inputs.
    const auto ref = test::dataPath("onnx/blazeface_front_128_reference.h5");
    auto model = core::loadModel(path);
    auto net = core::Network::load(path, model);
    core::Tensor x = core::readDataset(ref, "inputs");
    auto outs = net.run({x}, {});
    ASSERT_EQ(outs.size(), 4u);
    for (size_t k = 0; k < outs.size(); ++k) {
        auto expected = core::readDataset(ref, "output_" + std::to_string(k));
        ASSERT_EQ(outs[k].shape, expected.shape);
        float scale = 0, err = 0;
        for (size_t i = 0; i < expected.values.size(); ++i) {
            scale = std::max(scale, std::abs(expected.values[i]));
            err = std::max(err, std::abs(expected.values[i] - outs[k].values[i]));
        }
        EXPECT_LT(err, 1e-4f * scale) << "output " << k;
    }
}

TEST(Onnx, UnsupportedOpIsNamed) {
    test::TempDir dir;
    const auto in = dir.file("m.onnx");
    OnnxBuilder b;
    b.input("x", {1, 2, 4, 4});
    b.conv("conv", "x", "c", 3, 2, 3, 1);
    b.node("Erf", "erf", {"c"}, {"y"});
    b.output("y");
    b.save(in);
    auto model = core::loadModel(in);
    try {
        core::Network::load(in, model);
        FAIL() << "no error";
    } catch (const core::Error& e) {
        EXPECT_NE(std::string(e.what()).find("'erf' (Erf)"), std::string::npos) << e.what();
    }
}

}  // namespace
