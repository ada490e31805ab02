// Regions in ONNX node graphs: found through Add and Concat (also with a zero channel padding),
// refused with the reason, and equalized without changing the function (the evaluator).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "cle/core/topology.h"
#include "cle/core/verification.h"
#include "cli_runner.h"
#include "onnx_builder.h"
#include "test_util.h"

namespace {

using namespace cle;
using test::OnnxBuilder;

core::PairPlan plan(const std::string& path) {
    return core::Topology::build(core::inspectFile(path)).suggest(false);
}

std::string refused(const core::PairPlan& p) {
    return p.rejectedRegions.empty() ? "" : p.rejectedRegions[0].reason;
}

// Equalizes `in` with --auto and returns the verification of the result against `in`.
core::Verification equalizeAndVerify(const std::string& in, const std::string& out) {
    auto r = test::runCle({"equalize", in, "-o", out, "--auto", "-q"});
    EXPECT_EQ(r.code, 0) << r.err;
    core::VerifyOptions o;
    o.samples = 4;
    return core::verifyFiles(in, out, o);
}

bool weightsDiffer(const std::string& a, const std::string& b, const std::string& tensor) {
    return core::readDataset(a, tensor).values != core::readDataset(b, tensor).values;
}

// conv0 -> relu r0 -> conv1 -> relu -> conv2 -> Add(r0, .) -> relu -> conv3: an identity shortcut
// inside the network; conv1 depthwise when `depthwise`.
void residualBlock(const std::string& path, bool depthwise = false) {
    OnnxBuilder b;
    b.input("x", {1, 3, 8, 8});
    b.conv("conv0", "x", "c0", 4, 3, 3, 1);
    b.node("Relu", "r0", {"c0"}, {"r0"});
    b.conv("conv1", "r0", "c1", 4, 4, 3, 2, depthwise ? 4 : 1);
    b.node("Relu", "r1", {"c1"}, {"r1"});
    b.conv("conv2", "r1", "c2", 4, 4, 3, 3);
    b.node("Add", "add", {"r0", "c2"}, {"a"});
    b.node("Relu", "r2", {"a"}, {"r2"});
    b.conv("conv3", "r2", "y", 5, 4, 1, 4);
    b.output("y");
    b.save(path);
}

TEST(OnnxRegions, ResidualBlockIsOneRegionAndKeepsTheFunction) {
    test::TempDir dir;
    const auto in = dir.file("m.onnx"), out = dir.file("eq.onnx");
    residualBlock(in);
    auto p = plan(in);
    ASSERT_EQ(p.regions.size(), 1u);
    const auto& r = p.regions[0].region;
    EXPECT_EQ(r.sources, (std::vector<std::string>{"conv0", "conv2"}));
    EXPECT_EQ(r.sinks, (std::vector<std::string>{"conv1", "conv3"}));
    EXPECT_EQ(r.channels, 4);
    EXPECT_EQ(r.sourceChannels[0], r.sourceChannels[1]);  // the Add's inputs share channels
    EXPECT_TRUE(p.rejectedRegions.empty());
    ASSERT_EQ(p.suggested.size(), 1u);  // conv1 -> conv2 stays a chain
    bool inRegion = false;
    for (const auto& j : p.rejected)
        if (j.layers == std::vector<std::string>{"conv2", "conv3"})
            inRegion = j.reason.find(core::kInRegion) != std::string::npos;
    EXPECT_TRUE(inRegion);

    auto v = equalizeAndVerify(in, out);
    EXPECT_TRUE(v.preserved);
    EXPECT_LT(v.maxRelativeChange, 1e-5);
    EXPECT_TRUE(weightsDiffer(in, out, "conv0.weight"));  // only a region scales conv0
    EXPECT_TRUE(weightsDiffer(in, out, "conv3.weight"));
}

TEST(OnnxRegions, DepthwiseSinkScalesItsKernelAlongItsChannels) {
    test::TempDir dir;
    const auto in = dir.file("m.onnx"), out = dir.file("eq.onnx");
    residualBlock(in, true);
    ASSERT_TRUE(core::inspectFile(in).find("conv1")->depthwise);
    auto p = plan(in);
    ASSERT_EQ(p.regions.size(), 1u) << refused(p);
    EXPECT_EQ(p.regions[0].region.sinks, (std::vector<std::string>{"conv1", "conv3"}));
    auto v = equalizeAndVerify(in, out);
    EXPECT_TRUE(v.preserved);
    EXPECT_LT(v.maxRelativeChange, 1e-5);
    EXPECT_TRUE(weightsDiffer(in, out, "conv0.weight"));
}

TEST(OnnxRegions, ConcatOfTwoBranchesGivesEachItsSlice) {
    test::TempDir dir;
    const auto in = dir.file("m.onnx"), out = dir.file("eq.onnx");
    OnnxBuilder b;
    b.input("x", {1, 3, 8, 8});
    b.conv("convA", "x", "ca", 2, 3, 3, 1);
    b.node("Relu", "ra", {"ca"}, {"ra"});
    b.conv("convB", "x", "cb", 3, 3, 3, 2);
    b.node("Relu", "rb", {"cb"}, {"rb"});
    OnnxBuilder::attr(b.node("Concat", "cat", {"ra", "rb"}, {"cat"}), "axis", std::int64_t(1));
    b.conv("convC", "cat", "y", 4, 5, 1, 3);
    b.output("y");
    b.save(in);
    auto p = plan(in);
    ASSERT_EQ(p.regions.size(), 1u) << refused(p);
    const auto& r = p.regions[0].region;
    EXPECT_EQ(r.sources, (std::vector<std::string>{"convA", "convB"}));
    EXPECT_EQ(r.sinks, (std::vector<std::string>{"convC"}));
    EXPECT_EQ(r.channels, 5);
    EXPECT_EQ(r.sourceChannels[0], (std::vector<int>{0, 1}));
    EXPECT_EQ(r.sourceChannels[1], (std::vector<int>{2, 3, 4}));
    EXPECT_EQ(r.sinkChannels[0], (std::vector<int>{0, 1, 2, 3, 4}));

    auto v = equalizeAndVerify(in, out);
    EXPECT_TRUE(v.preserved);
    EXPECT_LT(v.maxRelativeChange, 1e-5);
    EXPECT_TRUE(weightsDiffer(in, out, "convA.weight"));
    EXPECT_TRUE(weightsDiffer(in, out, "convC.weight"));
}

// conv0 -> relu r0 -> conv1 (4 -> 6) -> Add(., Concat(r0, zeros of 2 channels)) -> relu -> conv2:
// the channel padding of a shortcut, as BlazeFace builds it. `value` fills the padding.
void paddedShortcut(const std::string& path, float value) {
    OnnxBuilder b;
    b.input("x", {1, 3, 8, 8});
    b.conv("conv0", "x", "c0", 4, 3, 3, 1);
    b.node("Relu", "r0", {"c0"}, {"r0"});
    b.conv("conv1", "r0", "c1", 6, 4, 3, 2);
    b.model().mutable_graph()->add_initializer()->CopyFrom([] {
        onnx::TensorProto t;
        t.set_name("pad_shape");
        t.add_dims(4);
        t.set_data_type(onnx::TensorProto::INT64);
        for (std::int64_t d : {1, 2, 8, 8}) t.add_int64_data(d);
        return t;
    }());
    auto& zeros = b.node("ConstantOfShape", "pad", {"pad_shape"}, {"zeros"});
    auto* a = zeros.add_attribute();
    a->set_name("value");
    a->set_type(onnx::AttributeProto::TENSOR);
    *a->mutable_t() = OnnxBuilder::tensor("v", {1}, {value});
    OnnxBuilder::attr(b.node("Concat", "padded", {"r0", "zeros"}, {"p"}), "axis", std::int64_t(1));
    b.node("Add", "add", {"c1", "p"}, {"a"});
    b.node("Relu", "r1", {"a"}, {"r1"});
    b.conv("conv2", "r1", "y", 3, 6, 1, 3);
    b.output("y");
    b.save(path);
}

TEST(OnnxRegions, ZeroChannelPaddingStaysZeroUnderTheScale) {
    test::TempDir dir;
    const auto in = dir.file("m.onnx"), out = dir.file("eq.onnx");
    paddedShortcut(in, 0.f);
    auto p = plan(in);
    ASSERT_EQ(p.regions.size(), 1u) << refused(p);
    const auto& r = p.regions[0].region;
    EXPECT_EQ(r.sources, (std::vector<std::string>{"conv0", "conv1"}));
    EXPECT_EQ(r.sinks, (std::vector<std::string>{"conv1", "conv2"}));
    EXPECT_EQ(r.channels, 6);  // conv0's 4 channels share conv1's first 4, the zeros the last 2
    EXPECT_EQ(r.sourceChannels[0],
              (std::vector<int>(r.sourceChannels[1].begin(), r.sourceChannels[1].begin() + 4)));

    auto v = equalizeAndVerify(in, out);
    EXPECT_TRUE(v.preserved);
    EXPECT_LT(v.maxRelativeChange, 1e-5);
    EXPECT_TRUE(weightsDiffer(in, out, "conv0.weight"));
}

TEST(OnnxRegions, NonZeroPaddingIsRefused) {
    test::TempDir dir;
    const auto in = dir.file("m.onnx");
    paddedShortcut(in, 1.f);
    auto p = plan(in);
    EXPECT_TRUE(p.regions.empty());
    ASSERT_EQ(p.rejectedRegions.size(), 1u);
    EXPECT_EQ(p.rejectedRegions[0].reason,
              "the constant 'pad' joins the region, and a per-channel scale would not scale it");
}

// x -> conv1 -> relu -> [join with `other`] -> conv2 -> y, joined by `op`.
std::string refusal(const std::string& path, const std::string& op, const std::string& other,
                    std::int64_t axis = 1, bool joinIsOutput = false) {
    OnnxBuilder b;
    b.input("x", {1, 4, 8, 8});
    b.conv("conv0", "x", "c0", 4, 4, 3, 1);
    b.node("Relu", "r0", {"c0"}, {"r0"});
    b.conv("conv1", "r0", "c1", 4, 4, 3, 2);
    auto& j = b.node(op, "join", {other, "c1"}, {"j"});
    if (op == "Concat") OnnxBuilder::attr(j, "axis", axis);
    b.conv("conv2", "j", "y", 3, op == "Concat" && axis == 1 ? 8 : 4, 1, 3);
    b.output("y");
    if (joinIsOutput) b.output("j");
    b.save(path);
    auto p = plan(path);
    EXPECT_TRUE(p.regions.empty());
    return p.rejectedRegions.size() == 1 ? p.rejectedRegions[0].reason : "";
}

TEST(OnnxRegions, RefusalsNameTheirReason) {
    test::TempDir dir;
    EXPECT_EQ(refusal(dir.file("in.onnx"), "Add", "x"),
              "the network input 'x' reaches the region (an identity shortcut from the input), "
              "and it has no layer whose channels could be scaled");
    EXPECT_EQ(refusal(dir.file("out.onnx"), "Add", "r0", 1, true),
              "the output of 'join' is a model output, which equalizing would change");
    EXPECT_EQ(refusal(dir.file("mul.onnx"), "Mul", "r0"),
              "'join' (Mul) does not commute with a per-channel scale");
    EXPECT_EQ(refusal(dir.file("axis.onnx"), "Concat", "r0", 2),
              "Concat 'join' joins along axis 2, not the channel axis");
}

// The backbone's residual Adds (with their zero channel paddings) make one region: the first
// convolution and the 16 pointwise ones as sources, the 16 depthwise ones and 4 heads as sinks.
TEST(OnnxRegions, BlazeFaceBackboneIsOneRegion) {
    auto p = plan(test::dataPath("onnx/blazeface_front_128.onnx"));
    EXPECT_EQ(p.suggested.size(), 16u);
    EXPECT_TRUE(p.rejectedRegions.empty()) << p.rejectedRegions[0].reason;
    ASSERT_EQ(p.regions.size(), 1u);
    EXPECT_EQ(p.regions[0].region.sources.size(), 17u);
    EXPECT_EQ(p.regions[0].region.sinks.size(), 20u);
    EXPECT_EQ(p.regions[0].region.channels, 96);
    int covered = 0;
    for (const auto& r : p.rejected) covered += r.reason.find(core::kInRegion) != std::string::npos;
    EXPECT_EQ(covered, 21);
}

}  // namespace
