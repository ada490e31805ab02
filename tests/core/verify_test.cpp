// `cle verify` and `cle equalize --verify`: the original and the equalized network on the same
// inputs, on the bundled sample and on synthetic MobileNet- and Inception-style networks.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "cle/core/error.h"
#include "cle/core/evaluator.h"
#include "cle/core/model.h"
#include "cle/core/verification.h"
#include "cli_runner.h"
#include "keras_forward.h"
#include "keras_model.h"
#include "test_util.h"
#include "verify_command.h"

using namespace cle;
using nlohmann::json;

namespace {

// Rewrites a float dataset of an existing file in place.
void rewrite(const std::string& file, const std::string& dataset,
             const std::function<void(std::vector<float>&)>& change) {
    std::vector<float> v = test::readFloats(file, dataset);
    change(v);
    hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, dataset.c_str(), H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
    H5Dclose(d);
    H5Fclose(f);
}

void positiveVariances(const std::string& file, const test::Names& norms) {
    for (const auto& bn : norms)
        rewrite(file, "/model_weights/" + bn + "/" + bn + "/moving_variance:0",
                [](std::vector<float>& v) {
                    for (auto& x : v) x = 0.2f + std::abs(x);
                });
}

// conv-BN-ReLU6, depthwise-BN-ReLU6, 1x1-BN, residual Add, global pooling, Dense.
std::string mobileNetStyle(const std::string& path, const std::string& head = "linear") {
    test::KerasModel m;
    m.conv("stem", 3, 8, {{"padding", "same"}});
    m.batchNorm("stem_bn", 8).layer("ReLU", "stem_relu", {{"max_value", 6.0}});
    m.layer("DepthwiseConv2D", "dw",
            {{"kernel_size", {3, 3}}, {"padding", "same"}, {"activation", "linear"}})
        .weights({{"depthwise_kernel", {3, 3, 8, 1}}, {"bias", {8}}});
    m.batchNorm("dw_bn", 8).layer("ReLU", "dw_relu", {{"max_value", 6.0}});
    m.layer("Conv2D", "pw", {{"filters", 8}, {"kernel_size", {1, 1}}, {"activation", "linear"}})
        .weights({{"kernel", {1, 1, 8, 8}}, {"bias", {8}}});
    m.batchNorm("pw_bn", 8);
    m.layer("Add", "res", json::object(), test::Names{"stem_relu", "pw_bn"});
    m.layer("GlobalAveragePooling2D", "gap").dense("fc", 8, 5, {{"activation", head}});
    m.write(path);
    positiveVariances(path, {"stem_bn", "dw_bn", "pw_bn"});
    return path;
}

// Four branches (1x1, 3x3, max pool + 1x1, same-padded average pool + 1x1) concatenated, then
// a chain of convolutions and a softmax classifier.
std::string inceptionStyle(const std::string& path) {
    test::KerasModel m;
    m.conv("stem", 4, 8, {{"padding", "same"}, {"activation", "relu"}});
    m.layer("Conv2D", "b1", {{"filters", 4}, {"kernel_size", {1, 1}}, {"activation", "relu"}},
            test::Names{"stem"})
        .weights({{"kernel", {1, 1, 8, 4}}, {"bias", {4}}});
    m.conv("b2", 8, 6, {{"padding", "same"}, {"activation", "relu"}}, test::Names{"stem"});
    json pool = {{"pool_size", {3, 3}}, {"strides", {1, 1}}, {"padding", "same"}};
    m.layer("MaxPooling2D", "b3_pool", pool, test::Names{"stem"});
    m.layer("Conv2D", "b3", {{"filters", 4}, {"kernel_size", {1, 1}}, {"activation", "relu"}})
        .weights({{"kernel", {1, 1, 8, 4}}, {"bias", {4}}});
    m.layer("AveragePooling2D", "b4_pool", pool, test::Names{"stem"});
    m.layer("Conv2D", "b4", {{"filters", 4}, {"kernel_size", {1, 1}}, {"activation", "relu"}})
        .weights({{"kernel", {1, 1, 8, 4}}, {"bias", {4}}});
    m.layer("Concatenate", "mix", {{"axis", -1}}, test::Names{"b1", "b2", "b3", "b4"});
    m.conv("head", 18, 8, {{"padding", "valid"}, {"strides", {2, 2}}, {"activation", "relu"}});
    m.conv("head2", 8, 8, {{"padding", "same"}, {"activation", "relu"}});
    m.layer("GlobalAveragePooling2D", "gap").dense("fc", 8, 10, {{"activation", "softmax"}});
    m.write(path);
    return path;
}

json verifyJson(const std::vector<std::string>& extra, int expectedCode) {
    std::vector<std::string> args = {"verify"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back("--json");
    auto r = test::runCle(args);
    EXPECT_EQ(r.code, expectedCode) << r.err << r.out;
    return r.code == 0 || r.code == 4 ? json::parse(r.out) : json();
}

class Verify : public ::testing::Test {
protected:
    test::TempDir dir;
    const std::string sample = test::samplePath("tiny_face_detector_keras.h5");

    std::string equalized(const std::string& in, std::vector<std::string> extra = {}) {
        std::string out = dir.file("eq_" + std::filesystem::path(in).filename().string());
        std::vector<std::string> args = {"equalize", in, "-o", out, "--auto", "-q"};
        args.insert(args.end(), extra.begin(), extra.end());
        auto r = test::runCle(args);
        EXPECT_EQ(r.code, 0) << r.err;
        return out;
    }
};

TEST_F(Verify, TheEqualizedSampleKeepsItsFunction) {
    json j = verifyJson({sample, equalized(sample)}, 0);
    EXPECT_EQ(j["inputs"]["source"], "uniform");
    EXPECT_EQ(j["inputs"]["count"], 8);
    EXPECT_TRUE(j["function"]["preserved"]);
    EXPECT_LT(j["function"]["max_relative_change"].get<double>(), 1e-4);
    EXPECT_TRUE(j["function"]["relaxation_matched_change"].is_null());
    EXPECT_EQ(j["function"]["tolerance"], 1e-4);
    for (const char* mode : {"per_tensor", "per_channel"})
        for (const char* who : {"original_db", "candidate_db"}) {
            double db = j["int8"][mode][who].get<double>();
            EXPECT_GT(db, 15) << mode << " " << who;
            EXPECT_LT(db, 80) << mode << " " << who;
        }
    EXPECT_GT(j["int8"]["per_channel"]["original_db"].get<double>(),
              j["int8"]["per_tensor"]["original_db"].get<double>());
    EXPECT_TRUE(j["top1_agreement"].is_null());  // a detector, not a classifier
    EXPECT_FALSE(j["int8"].contains("per_tensor_relaxation_matched"));  // nothing relaxed
}

TEST_F(Verify, AChannelScaledWithoutCompensationChangesTheFunction) {
    std::string bad = dir.file("scaled.h5");
    std::filesystem::copy_file(equalized(sample), bad);
    rewrite(bad, "/model_weights/conv0/conv0/kernel:0", [](std::vector<float>& v) {
        for (size_t i = 5; i < v.size(); i += 16) v[i] *= 2;  // output channel 5 of 16
    });
    json j = verifyJson({sample, bad}, 4);
    EXPECT_FALSE(j["function"]["preserved"]);
    EXPECT_GT(j["function"]["max_relative_change"].get<double>(), 1e-3);
    auto text = test::runCle({"verify", sample, bad, "--samples", "2"});
    EXPECT_EQ(text.code, 4);
    EXPECT_NE(text.out.find("function: CHANGED"), std::string::npos) << text.out;
}

TEST_F(Verify, MobileNetStyleWithRelaxedRelu6) {
    std::string in = mobileNetStyle(dir.file("mobile.h5"));
    std::string out = equalized(in, {"--allow-relu6"});
    json j = verifyJson({in, out, "--input-shape", "10,10,3", "--samples", "4"}, 0);
    ASSERT_FALSE(j["function"]["relaxation_matched_change"].is_null());
    EXPECT_LT(j["function"]["relaxation_matched_change"].get<double>(), 1e-4);
    EXPECT_EQ(j["inputs"]["count"], 4);
    // Equalization's own INT8 effect, the relaxation on both sides: both figures measured
    // against the relaxed original's float output (finite: the networks are not exact in INT8).
    const auto& matched = j["int8"]["per_tensor_relaxation_matched"];
    ASSERT_TRUE(matched.is_object()) << j.dump();
    EXPECT_GT(matched["original_db"].get<double>(), 0.0);
    EXPECT_GT(matched["candidate_db"].get<double>(), 0.0);
    ASSERT_FALSE(j["top1_agreement"].is_null());
    EXPECT_GE(j["top1_agreement"]["candidate"].get<double>(), 0.0);
    EXPECT_LE(j["top1_agreement"]["candidate"].get<double>(), 1.0);
    // In words: kept only up to the relaxation, and what the relaxation itself changes.
    auto text = test::runCle({"verify", in, out, "--input-shape", "10,10,3", "--samples", "4"});
    EXPECT_NE(text.out.find("function: kept up to the ReLU6 relaxation"), std::string::npos)
        << text.out;
    EXPECT_NE(text.out.find("against the original as it is, "), std::string::npos) << text.out;
}

TEST_F(Verify, MobileNetStyleAgreesWithTheFloat64Reference) {
    std::string in = mobileNetStyle(dir.file("mobile.h5"));
    core::Network net = core::Network::load(in, core::loadModel(in));
    test::Image x{6, 7, 3, test::randomValues(6 * 7 * 3, 1.0, 9)};
    core::Tensor t{{1, 6, 7, 3}, std::vector<float>(x.v.begin(), x.v.end())};
    for (size_t i = 0; i < x.v.size(); ++i) x.v[i] = double(t.values[i]);
    auto y = net.run({t}, {})[0];
    std::vector<double> got(y.values.begin(), y.values.end());
    EXPECT_LT(test::relativeDifference(test::kerasForward(in, x), got), 1e-5);
}

TEST_F(Verify, InceptionStyleBranchesAndPooling) {
    std::string in = inceptionStyle(dir.file("inception.h5"));
    json j = verifyJson({in, equalized(in), "--input-shape", "12,12,4"}, 0);
    EXPECT_TRUE(j["function"]["preserved"]);
    EXPECT_LT(j["function"]["max_relative_change"].get<double>(), 1e-4);
    ASSERT_FALSE(j["top1_agreement"].is_null());
    EXPECT_GE(j["top1_agreement"]["original"].get<double>(), 0.0);
}

TEST_F(Verify, ActivationsAddTheW8A8Figures) {
    std::string in = inceptionStyle(dir.file("inception.h5"));
    std::string out = equalized(in);
    json plain = verifyJson({in, out, "--input-shape", "12,12,4"}, 0);
    EXPECT_FALSE(plain["int8"].contains("w8a8"));
    json j = verifyJson({in, out, "--input-shape", "12,12,4", "--activations"}, 0);
    ASSERT_TRUE(j["int8"].contains("w8a8"));
    double w8a8 = j["int8"]["w8a8"]["original_db"].get<double>();
    // Rounding activations as well costs output SQNR over rounding the weights alone.
    EXPECT_LT(w8a8, j["int8"]["per_tensor"]["original_db"].get<double>());
    EXPECT_GT(w8a8, 5.0);
    EXPECT_GT(j["int8"]["w8a8"]["candidate_db"].get<double>(), 5.0);
}

TEST_F(Verify, InputsFromAFile) {
    std::string in = inceptionStyle(dir.file("inception.h5"));
    std::string inputs = dir.file("in.h5");
    {
        test::H5Writer w(inputs);
        w.dataset("/inputs", {3, 12, 12, 4}, test::randomValues(3 * 12 * 12 * 4, 1.0, 4));
    }
    json j = verifyJson({in, equalized(in), "--inputs", inputs}, 0);
    EXPECT_EQ(j["inputs"]["source"], "file");
    EXPECT_EQ(j["inputs"]["count"], 3);
}

TEST_F(Verify, RefusesWhatItCannotCompare) {
    std::string in = inceptionStyle(dir.file("inception.h5"));
    auto r = test::runCle({"verify", sample, in, "--input-shape", "12,12,4"});
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("does not match"), std::string::npos) << r.err;
    std::string torch = test::samplePath("tiny_face_detector_torch.h5");
    r = test::runCle({"verify", torch, torch});
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("no layer graph"), std::string::npos) << r.err;
    r = test::runCle({"verify", in, in});  // the input shape is open
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("--input-shape"), std::string::npos) << r.err;
    EXPECT_EQ(test::runCle({"verify", sample, sample, "--samples", "0"}).code, 2);
    EXPECT_EQ(test::runCle({"verify", sample, sample, "--input-shape", "a,b"}).code, 2);
}

TEST_F(Verify, EqualizeVerifyWritesTheFiguresToTheSummaryAndReport) {
    std::string out = dir.file("o.h5"), report = dir.file("r.json");
    auto r = test::runCle(
        {"equalize", sample, "-o", out, "--auto", "-q", "--verify", "--report", report});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("function: kept"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("INT8 output SQNR"), std::string::npos) << r.out;
    std::ifstream f(report);
    json rep = json::parse(f);
    ASSERT_TRUE(rep.contains("verification"));
    EXPECT_TRUE(rep["verification"]["function"]["preserved"]);
    // The in-memory check gives the figures the written file gives.
    json file = verifyJson({sample, out}, 0);
    EXPECT_DOUBLE_EQ(rep["verification"]["function"]["max_relative_change"].get<double>(),
                     file["function"]["max_relative_change"].get<double>());
}

TEST_F(Verify, EqualizeVerifyWritesNothingWhenTheFunctionChanged) {
    std::string out = dir.file("o.h5"), report = dir.file("r.json");
    auto r = test::runCle({"equalize", sample, "-o", out, "--auto", "-q", "--verify", "--tolerance",
                           "1e-9", "--report", report});
    EXPECT_EQ(r.code, 4) << r.err;
    EXPECT_NE(r.out.find("nothing written"), std::string::npos) << r.out;
    EXPECT_FALSE(std::filesystem::exists(out));
    EXPECT_FALSE(std::filesystem::exists(report));
    EXPECT_EQ(test::runCle({"equalize", sample, "-o", out, "--auto", "--tolerance", "1"}).code,
              2);  // --tolerance needs --verify
}

TEST_F(Verify, TheEqualizeCheckCatchesAChannelScaledWithoutCompensation) {
    cli::EqualizeArgs a;
    a.input = sample;
    a.verify = true;
    a.verifyInputs = test::dataPath("eval/tiny_face_io.h5");  // one input
    auto model = std::make_shared<const core::Model>(core::loadModel(sample));
    cli::ResultCheck check(a, model);
    core::Layer conv0 = *model->find("conv0");
    EXPECT_TRUE(check.run({}, {conv0}, nullptr).preserved);
    for (size_t i = 7; i < conv0.weight.values.size(); i += 16) conv0.weight.values[i] *= 3;
    conv0.bias->values[7] *= 3;  // channel 7 of 16, its consumer left as it was
    core::Verification v = check.run({}, {conv0}, nullptr);
    EXPECT_FALSE(v.preserved);
    EXPECT_EQ(v.count, 1);
    EXPECT_EQ(v.inputSource, "file");
}

TEST_F(Verify, SeedAndSoftmaxHandling) {
    std::string in = inceptionStyle(dir.file("inception.h5"));
    std::string out = equalized(in);
    json a = verifyJson({in, out, "--input-shape", "12,12,4", "--seed", "1"}, 0);
    json b = verifyJson({in, out, "--input-shape", "12,12,4", "--seed", "2"}, 0);
    EXPECT_NE(a["int8"]["per_tensor"]["original_db"], b["int8"]["per_tensor"]["original_db"]);
    auto text = test::runCle({"verify", in, out, "--input-shape", "12,12,4"});
    EXPECT_NE(text.out.find("values before the final softmax, centred"), std::string::npos)
        << text.out;
}

TEST_F(Verify, EqualizeVerifyOnAGraphItCannotEvaluateIsAnError) {
    test::KerasModel m;
    m.conv("a", 3, 4, {{"padding", "same"}, {"activation", "relu"}});
    m.conv("b", 4, 4, {{"padding", "same"}});
    m.layer("LayerNormalization", "ln");
    m.write(dir.file("ln.h5"));
    std::string out = dir.file("o.h5");
    auto r = test::runCle({"equalize", dir.file("ln.h5"), "-o", out, "--auto", "-q", "--verify"});
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("'ln'"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("LayerNormalization"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(out));
    EXPECT_EQ(test::runCle({"equalize", dir.file("ln.h5"), "-o", out, "--auto", "-q"}).code, 0);
}

}  // namespace

TEST(VerifyOpenInput, OpenInputSizeIsFilledWhenAsked) {
    // ESRGAN's input is [None, None, None, 3]: refused without a size, checked with one.
    test::TempDir dir;
    const std::string in = test::dataPath("esrgan_slim_x2_keras.h5"), out = dir.file("o.h5");
    ASSERT_EQ(test::runCle({"equalize", in, "-o", out, "--auto", "--quiet"}).code, 0);
    core::VerifyOptions o;
    o.samples = 2;
    EXPECT_THROW(core::verifyFiles(in, out, o), core::Error);
    o.openSize = 16;
    core::Verification v = core::verifyFiles(in, out, o);
    EXPECT_EQ(v.openSize, 16);
    EXPECT_TRUE(v.preserved) << v.maxRelativeChange;
}
