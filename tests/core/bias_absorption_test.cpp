// High-bias absorption: after equalizing, max(0, beta - 3|gamma|) per channel (over the
// cumulative factor) moves from the first layer's bias into the second's, and the network keeps
// its function where the pre-activation stays above it.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "keras_forward.h"
#include "keras_model.h"
#include "test_util.h"

using namespace cle;
using test::KerasModel;

namespace {

constexpr int kChannels = 8;

std::vector<double> filled(size_t n, double (*f)(size_t)) {
    std::vector<double> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = f(i);
    return v;
}

// conv1 with tiny weights (its pre-activation is about its bias), a batch norm whose beta lies
// far above 3|gamma| in the even channels, a ReLU, and conv2 without padding.
void writeModel(const std::string& path, bool relu) {
    KerasModel m;
    m.conv("conv1", 3, kChannels, {{"padding", "same"}})
        .values("kernel",
                filled(3 * 3 * 3 * kChannels, [](size_t i) { return 1e-3 * std::sin(double(i)); }));
    m.batchNorm("bn1", kChannels)
        .values("gamma", filled(kChannels, [](size_t c) { return 0.1 + 0.05 * double(c); }))
        .values("beta", filled(kChannels, [](size_t c) { return c % 2 ? -0.5 : 2.0 + double(c); }))
        .values("moving_mean", std::vector<double>(kChannels, 0.0))
        .values("moving_variance", std::vector<double>(kChannels, 1.0));
    if (relu) m.activation("relu1", "relu");
    m.conv("conv2", kChannels, 4);
    m.write(path);
}

nlohmann::json run(const std::string& in, const std::string& out, const std::string& report,
                   bool absorb) {
    std::vector<std::string> args = {"equalize", in,        "-o",       out,
                                     "--auto",   "--quiet", "--report", report};
    if (absorb) args.push_back("--absorb-bias");
    auto r = test::runCle(args);
    EXPECT_EQ(r.code, 0) << r.err;
    std::ifstream f(report);
    return nlohmann::json::parse(f);
}

}  // namespace

TEST(BiasAbsorption, MovesTheBiasAboveThreeSigmaAndKeepsTheFunction) {
    test::TempDir dir;
    const std::string in = dir.file("m.h5");
    writeModel(in, true);
    auto report = run(in, dir.file("a.h5"), dir.file("a.json"), true);
    ASSERT_EQ(report["absorbed_bias"].size(), 1u) << report.dump(1);
    const auto& a = report["absorbed_bias"][0];
    EXPECT_EQ(a["first"], "conv1");
    EXPECT_EQ(a["channels"], kChannels / 2);  // the even channels
    const auto scales = report["scales"][0].get<std::vector<double>>();
    for (size_t c = 0; c < size_t(kChannels); ++c) {
        const double gamma = 0.1 + 0.05 * double(c), beta = c % 2 ? -0.5 : 2.0 + double(c);
        const double expected = std::max(0.0, (beta - 3 * gamma) / scales[c]);
        EXPECT_NEAR(a["absorbed"][c].get<double>(), expected, 1e-5 * (1 + expected)) << c;
    }
    // conv1's stored bias (the folded one, kept in the batch norm's beta) lost exactly that.
    auto plain = run(in, dir.file("p.h5"), dir.file("p.json"), false);
    auto before = test::readFloats(dir.file("p.h5"), "/model_weights/bn1/bn1/beta:0");
    auto after = test::readFloats(dir.file("a.h5"), "/model_weights/conv1/conv1/bias:0");
    auto plainBias = test::readFloats(dir.file("p.h5"), "/model_weights/conv1/conv1/bias:0");
    for (size_t c = 0; c < size_t(kChannels); ++c)
        EXPECT_NEAR(double(plainBias[c] + before[c]) - a["absorbed"][c].get<double>(),
                    double(after[c]) +
                        test::readFloats(dir.file("a.h5"), "/model_weights/bn1/bn1/beta:0")[c],
                    1e-4)
            << c;
    for (unsigned seed : {1u, 2u}) {
        test::Image x{6, 6, 3, test::randomValues(6 * 6 * 3, 1.0, seed)};
        EXPECT_LT(test::relativeDifference(test::kerasForward(in, x),
                                           test::kerasForward(dir.file("a.h5"), x)),
                  1e-5);
    }
    EXPECT_FALSE(plain.contains("absorbed_bias"));
}

TEST(BiasAbsorption, NeedsAReluAfterTheBatchNorm) {
    test::TempDir dir;
    const std::string in = dir.file("m.h5");
    writeModel(in, false);
    auto report = run(in, dir.file("a.h5"), dir.file("a.json"), true);
    EXPECT_TRUE(report["absorbed_bias"].empty()) << report.dump(1);
}
