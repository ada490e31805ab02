// Real networks end to end: batch-norm folding and export, depthwise chains, the quantization
// preview, and the command line's --auto / --allow-relu6 / pairs.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "cle/core/equalizer.h"
#include "cle/core/exporter.h"
#include "cle/core/quantization.h"
#include "cle/core/run_plan.h"
#include "cli_runner.h"
#include "keras_model.h"
#include "test_util.h"

using namespace cle;

namespace {

using Image = std::vector<double>;  // H x W x C (Keras) or C x H x W (PyTorch), row-major

using test::kerasConv;

struct Bn {
    std::vector<float> gamma, beta, mean, var;
    double eps;
};

Bn readBn(const std::string& file, double eps) {
    auto r = [&](const char* n) {
        return test::readFloats(file, std::string("/model_weights/bn/bn/") + n);
    };
    return {r("gamma:0"), r("beta:0"), r("moving_mean:0"), r("moving_variance:0"), eps};
}

// conv a -> batch norm -> ReLU -> conv b, as Keras computes it.
Image kerasForward(const std::string& file, const Image& x, double eps) {
    auto t = [&](const std::string& p) { return core::readDataset(file, "/model_weights/" + p); };
    Image h = kerasConv(x, 6, 6, t("a/a/kernel:0"), t("a/a/bias:0"));
    Bn bn = readBn(file, eps);
    for (size_t i = 0; i < h.size(); ++i) {
        size_t c = i % bn.gamma.size();
        double v =
            bn.gamma[c] * (h[i] - bn.mean[c]) / std::sqrt(double(bn.var[c]) + eps) + bn.beta[c];
        h[i] = std::max(0.0, v);
    }
    return kerasConv(h, 4, 4, t("b/b/kernel:0"), t("b/b/bias:0"));
}

void overwrite(const std::string& file, const std::string& dataset, const std::vector<double>& v) {
    hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, dataset.c_str(), H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
    H5Dclose(d);
    H5Fclose(f);
}

void expectSameOutputs(const Image& want, const Image& got) {
    ASSERT_EQ(want.size(), got.size());
    double scale = 0;
    for (double v : want) scale = std::max(scale, std::abs(v));
    for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-4 * scale) << i;
}

TEST(Plan, ConvBatchNormReluConvIsFoldedEqualizedAndExportedFaithfully) {
    test::TempDir dir;
    std::string in = dir.file("bn.h5"), out = dir.file("out.h5");
    test::KerasModel m;
    m.conv("a", 3, 8).batchNorm("bn", 8, {{"epsilon", 1e-3}}).activation("act", "relu");
    m.conv("b", 8, 4);
    m.write(in);
    auto var = test::randomValues(8, 1.0, 77);
    for (auto& v : var) v = 0.05 + std::abs(v) * std::pow(10.0, double(&v - var.data()) / 4 - 1);
    overwrite(in, "/model_weights/bn/bn/moving_variance:0", var);
    Image x = test::randomValues(6 * 6 * 3, 1.0, 5);
    Image before = kerasForward(in, x, 1e-3);

    auto model = core::loadModel(in);
    auto topology = core::Topology::build(model.info);
    auto plan = core::planPairs(model.info, topology, {{"a", "b"}}, false);
    ASSERT_EQ(plan.batchNorms.size(), 1u);
    core::foldBatchNorms(model, plan);
    auto result = core::equalize(model, plan.pairs, {1e-6, 1000});
    ASSERT_TRUE(result.summary.converged);
    core::exportWeights(in, result.layers, out,
                        {false, nullptr, core::exportExtras(model.info, plan, result.layers)});

    expectSameOutputs(before, kerasForward(out, x, 1e-3));
    Bn bn = readBn(out, 1e-3);
    for (size_t c = 0; c < 8; ++c) {
        EXPECT_EQ(bn.gamma[c], 1.f);
        EXPECT_EQ(bn.mean[c], 0.f);
        EXPECT_EQ(bn.var[c], float(1 - 1e-3));
        EXPECT_EQ(bn.beta[c], 0.f);  // the folded bias lives in conv a's own bias
    }
}

// PyTorch conv2d, 'valid', stride 1, groups: x [in, h, w], kernel [out, in/groups, kh, kw].
Image torchConv(const Image& x, long h, long w, const core::Layer& l, long groups) {
    const auto& k = l.weight;
    long out = k.shape[0], inPer = k.shape[1], kh = k.shape[2], kw = k.shape[3];
    long oh = h - kh + 1, ow = w - kw + 1, outPer = out / groups;
    Image y(size_t(out * oh * ow), 0.0);
    for (long o = 0; o < out; ++o)
        for (long i = 0; i < oh; ++i)
            for (long j = 0; j < ow; ++j) {
                double s = l.bias ? l.bias->values[size_t(o)] : 0.0;
                for (long n = 0; n < inPer; ++n) {
                    long cin = (o / outPer) * inPer + n;
                    for (long a = 0; a < kh; ++a)
                        for (long c = 0; c < kw; ++c)
                            s += x[size_t((cin * h + i + a) * w + j + c)] *
                                 k.values[size_t(((o * inPer + n) * kh + a) * kw + c)];
                }
                y[size_t((o * oh + i) * ow + j)] = s;
            }
    return y;
}

Image relu(Image v) {
    for (auto& x : v) x = std::max(0.0, x);
    return v;
}

core::Layer torchLayer(const std::string& name, std::vector<std::int64_t> shape, unsigned seed) {
    core::Layer l;
    l.info.name = name;
    l.info.shape = shape;
    l.info.weightPath = "/" + name + ".weight";
    l.info.biasPath = "/" + name + ".bias";
    l.weight.shape = shape;
    auto v = test::randomValues(size_t(l.weight.size()), 1.0, seed);
    for (size_t i = 0; i < v.size(); ++i)
        v[i] *= 1 + double((i * 7 / size_t(l.weight.size() / shape[0] + 1)) % 9);
    l.weight.values.assign(v.begin(), v.end());
    auto b = test::randomValues(size_t(shape[0]), 0.5, seed + 1);
    l.bias = core::Tensor{{shape[0]}, std::vector<float>(b.begin(), b.end())};
    return l;
}

TEST(Plan, ConvDepthwiseConvChainComputesTheSameFunction) {
    core::Model m;
    for (auto l : {torchLayer("c1", {6, 3, 3, 3}, 1), torchLayer("dw", {6, 1, 3, 3}, 2),
                   torchLayer("pw", {4, 6, 1, 1}, 3)}) {
        m.info.layers.push_back(l.info);
        m.layers.push_back(l);
    }
    auto forward = [](const core::Model& model, const Image& x) {
        Image h = relu(torchConv(x, 7, 7, *model.find("c1"), 1));
        h = relu(torchConv(h, 5, 5, *model.find("dw"), 6));
        return torchConv(h, 3, 3, *model.find("pw"), 1);
    };
    auto result = core::equalize(m, core::expandGroups({{"c1", "dw", "pw"}}), {1e-6, 1000});
    ASSERT_TRUE(result.summary.converged);
    EXPECT_EQ(result.summary.pairs[0].states[0].in.size(), 6u);  // dw's one channel axis
    core::Model after = m;
    core::applyLayers(after, result.layers);
    Image x = test::randomValues(3 * 7 * 7, 1.0, 9);
    expectSameOutputs(forward(m, x), forward(after, x));
    EXPECT_GT(core::rangeImbalance(result.summary.pairs[1].states[0].out),
              core::rangeImbalance(result.summary.pairs[1].states.back().out));
}

TEST(Quantization, SqnrMatchesAHandComputedCase) {
    core::Tensor t{{3}, {1.f, -1.f, 0.5f}};
    float scale = 1.f / 127;
    double q = std::nearbyint(0.5f / scale) * scale;  // 63.5 rounds to even: 64
    EXPECT_EQ(std::nearbyint(0.5f / scale), 64.f);
    double expected = 10 * std::log10(2.25 / ((0.5 - q) * (0.5 - q)));
    EXPECT_NEAR(core::sqnrPerTensor(t), expected, 1e-3);
    core::Tensor exact{{2}, {1.f, -1.f}};
    EXPECT_TRUE(std::isinf(core::sqnrPerTensor(exact)));
}

TEST(Quantization, EqualizationRaisesPerTensorSqnrOnTheSample) {
    auto model = core::loadModel(test::samplePath("tiny_face_detector_keras.h5"));
    core::Group chain;
    for (const auto& l : model.info.layers) chain.push_back(l.name);
    std::vector<std::string> names(chain.begin(), chain.end());
    auto report = core::quantizationBefore(model, names);
    auto result = core::equalize(model, core::expandGroups({chain}));
    core::quantizationAfter(report, result.layers);
    ASSERT_EQ(report.layers.size(), 12u);
    EXPECT_GT(report.perTensorAfter.median, report.perTensorBefore.median + 1);
    EXPECT_GT(report.perTensorAfter.worst, report.perTensorBefore.worst + 3);
    for (const auto& l : report.layers) EXPECT_GE(l.perChannelBefore, l.perTensorBefore - 1e-9);
}

test::Outcome cle(const std::vector<std::string>& args) { return test::runCle(args); }

TEST(PlanCli, Relu6NeedsPermissionAndIsRelaxedInTheExport) {
    test::TempDir dir;
    std::string in = dir.file("r6.h5"), out = dir.file("out.h5"), report = dir.file("r.json");
    test::KerasModel m;
    m.conv("a", 3, 8).activation("clip", "relu6").conv("b", 8, 4);
    m.write(in);
    auto refused = cle({"equalize", in, "-o", out, "--pairs", "a,b", "-q"});
    EXPECT_EQ(refused.code, 1);
    EXPECT_NE(refused.err.find("ReLU6"), std::string::npos) << refused.err;
    auto pairs = cle({"pairs", in, "--json"});
    auto j = nlohmann::json::parse(pairs.out);
    EXPECT_TRUE(j["suggested"].empty());
    EXPECT_EQ(j["rejected"].size(), 1u);

    auto ok = cle({"equalize", in, "-o", out, "--auto", "--allow-relu6", "-q", "--report", report});
    ASSERT_EQ(ok.code, 0) << ok.err;
    auto cfg = nlohmann::json::parse(test::readRootString(out, "model_config"));
    EXPECT_EQ(cfg["config"]["layers"][2]["config"]["activation"], "relu");
    std::ifstream r(report);
    auto rj = nlohmann::json::parse(r);
    EXPECT_EQ(rj["relu6_to_relu"], nlohmann::json::array({"clip"}));
    EXPECT_EQ(rj["quantization"]["layers"].size(), 2u);
}

TEST(PlanCli, AutoOnAFileWithoutGraphNeedsAcceptGuesses) {
    test::TempDir dir;
    std::string torch = test::samplePath("tiny_face_detector_torch.h5");
    auto refused = cle({"equalize", torch, "-o", dir.file("o.h5"), "--auto", "-q"});
    EXPECT_EQ(refused.code, 2);
    EXPECT_NE(refused.err.find("--accept-guesses"), std::string::npos);
    EXPECT_TRUE(dir.entries().empty());
    auto ok = cle({"equalize", torch, "-o", dir.file("o.h5"), "--auto", "--accept-guesses", "-q"});
    EXPECT_EQ(ok.code, 0) << ok.err;
    EXPECT_NE(ok.out.find("per tensor"), std::string::npos);
}

}  // namespace
