// `equalize --verify` checks the network the output file will hold: the verdict of the
// in-memory check must be the verdict of `cle verify IN OUT` on the written file.
#include <gtest/gtest.h>

#include <filesystem>

#include "cli_runner.h"
#include "keras_model.h"
#include "onnx_builder.h"
#include "test_util.h"

namespace {

using namespace cle;
using test::OnnxBuilder;

// Conv c1 (bias or not, float16 or float32 weights) -> BatchNormalization -> Relu -> Conv c2
// -> Relu -> Conv c3, with output channels of very different ranges.
void writeChain(const std::string& path, bool bias, bool half) {
    OnnxBuilder b;
    b.input("x", {1, 3, 8, 8});
    b.conv("c1", "x", "a", 8, 3, 3, 1, 1, bias, false, half);
    std::vector<float> gamma, beta, mean, var;
    for (int k = 0; k < 8; ++k) {
        gamma.push_back(0.5f + 0.3f * float(k));
        beta.push_back(0.4f * float(k % 3) - 0.3f);
        mean.push_back(0.1f * float(k) - 0.2f);
        var.push_back(0.5f + 0.2f * float(k));
    }
    b.init("bn.scale", {8}, gamma, half);
    b.init("bn.bias", {8}, beta, half);
    b.init("bn.mean", {8}, mean, half);
    b.init("bn.var", {8}, var, half);
    b.node("BatchNormalization", "bn", {"a", "bn.scale", "bn.bias", "bn.mean", "bn.var"}, {"n"});
    b.node("Relu", "r1", {"n"}, {"r"});
    b.conv("c2", "r", "b", 8, 8, 3, 2, 1, true, false, half);
    b.node("Relu", "r2", {"b"}, {"s"});
    b.conv("c3", "s", "y", 4, 8, 1, 3, 1, true, false, half);
    b.output("y");
    b.save(path);
}

// The in-memory check and `cle verify` on the written file agree.
void expectSameVerdict(const std::string& in, const std::string& out,
                       const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args{"equalize", in, "-o", out, "--auto", "--quiet", "--verify"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto eq = test::runCle(args);
    ASSERT_TRUE(eq.code == 0 || eq.code == 4) << eq.out << eq.err;
    if (eq.code == 4) {  // nothing written: write it unchecked to see what the file computes
        args.resize(6);
        auto plain = test::runCle(args);
        ASSERT_EQ(plain.code, 0) << plain.err;
    }
    std::vector<std::string> verify{"verify", in, out};
    for (size_t i = 0; i + 1 < extra.size(); ++i)
        if (extra[i] == "--tolerance") verify.insert(verify.end(), {extra[i], extra[i + 1]});
    auto v = test::runCle(verify);
    EXPECT_EQ(eq.code, v.code) << "equalize --verify:\n" << eq.out << "cle verify:\n" << v.out;
}

TEST(StoredResult, FoldedBiasOfALayerWithoutBiasIsPartOfTheCheckedNetwork) {
    test::TempDir dir;
    const auto in = dir.file("m.onnx"), out = dir.file("eq.onnx");
    writeChain(in, false, false);
    auto eq = test::runCle({"equalize", in, "-o", out, "--auto", "--quiet", "--verify"});
    EXPECT_EQ(eq.code, 0) << eq.out << eq.err;
    EXPECT_NE(eq.out.find("function: kept"), std::string::npos) << eq.out;
    expectSameVerdict(in, dir.file("eq2.onnx"));
}

TEST(StoredResult, Float16WeightsAreCheckedAsTheFileStoresThem) {
    test::TempDir dir;
    const auto in = dir.file("m.onnx");
    writeChain(in, true, true);
    // Rounding the equalized weights to float16 changes the output by about 4e-4.
    expectSameVerdict(in, dir.file("eq.onnx"));
    auto eq =
        test::runCle({"equalize", in, "-o", dir.file("eq3.onnx"), "--auto", "--quiet", "--verify"});
    EXPECT_EQ(eq.code, 4) << eq.out;
    EXPECT_NE(eq.out.find("float16"), std::string::npos) << eq.out;
    expectSameVerdict(in, dir.file("eq2.onnx"), {"--tolerance", "0.01"});
}

}  // namespace

namespace {

// The ESRGAN-style file leaves its input's size open: --verify needs it before any work.
TEST(StoredResult, VerifyTakesTheInputShapeTheModelLeavesOpen) {
    test::TempDir dir;
    const std::string in = std::string(CLE_TEST_DATA_DIR) + "/esrgan_slim_x2_keras.h5";
    const auto out = dir.file("eq.h5");
    auto missing = test::runCle({"equalize", in, "-o", out, "--auto", "--verify"});
    EXPECT_EQ(missing.code, 2) << missing.out << missing.err;
    EXPECT_NE(missing.err.find("--input-shape (3 values)"), std::string::npos) << missing.err;
    EXPECT_EQ(missing.err.find("sweep"), std::string::npos) << "refused only after the sweeps";
    EXPECT_FALSE(std::filesystem::exists(out));
    auto given = test::runCle(
        {"equalize", in, "-o", out, "--auto", "--quiet", "--verify", "--input-shape", "12,10,3"});
    EXPECT_EQ(given.code, 0) << given.out << given.err;
    EXPECT_NE(given.out.find("function: kept"), std::string::npos) << given.out;
    EXPECT_TRUE(std::filesystem::exists(out));
}

}  // namespace

namespace {

// Absorbing high biases into a second layer that pads zeros changes the border outputs: when
// --verify refuses the result, the summary still says what was absorbed, the likely cause.
TEST(StoredResult, RefusedResultSaysWhatWasAbsorbed) {
    test::TempDir dir;
    test::KerasModel m;
    m.conv("conv1", 3, 8, {{"padding", "same"}});
    std::vector<double> gamma(8, 0.1), beta(8, 3.0);
    m.batchNorm("bn1", 8).values("gamma", gamma).values("beta", beta);
    m.values("moving_mean", std::vector<double>(8, 0.0));
    m.values("moving_variance", std::vector<double>(8, 1.0));
    m.activation("relu1", "relu").conv("conv2", 8, 4, {{"padding", "same"}});
    const auto in = dir.file("m.h5");
    m.write(in);
    auto r = test::runCle({"equalize", in, "-o", dir.file("eq.h5"), "--auto", "--quiet",
                           "--absorb-bias", "--verify", "--input-shape", "6,6,3"});
    EXPECT_EQ(r.code, 4) << r.out << r.err;
    EXPECT_NE(r.out.find("high-bias absorption conv1 -> conv2"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("nothing written"), std::string::npos) << r.out;
}

}  // namespace
