// A file with 20 000 tiny layers: inspect, pairs and equalize finish and give the right answer
// (layers are found by name through an index, the file is visited once per listing). Behaviour
// only: the time is measured by tests/bench/many_layers_bench.sh.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "cle/core/model.h"
#include "cli_runner.h"
#include "test_util.h"

namespace {

using namespace cle;
using namespace cle::test;

constexpr int kLayers = 20000;

// l0 ... l19999, 2 x 2, except every thousandth (l999, l1999, ...) which has 3 outputs: the chain
// breaks after it. A batch norm `l5_bn` follows l5.
void manyLayers(const std::string& path) {
    H5Writer w(path);
    for (int i = 0; i < kLayers; ++i) {
        bool wide = i % 1000 == 999;
        std::vector<double> values;
        for (int k = 0; k < (wide ? 6 : 4); ++k) values.push_back(1.0 + (i + 3 * k) % 7);
        w.dataset("/l" + std::to_string(i) + ".weight", {wide ? 3 : 2, 2}, values);
    }
    for (const char* v : {"running_mean", "running_var", "weight", "bias"})
        w.dataset(std::string("/l5_bn.") + v, {2}, {1.0, 2.0});
}

TEST(ManyLayers, InspectPairsAndEqualizeFinishWithTheRightAnswer) {
    TempDir dir;
    std::string in = dir.file("many.h5");
    manyLayers(in);

    auto info = core::inspectFile(in);
    ASSERT_EQ(info.layers.size(), size_t(kLayers));
    EXPECT_EQ(info.find("l12345")->name, "l12345");
    EXPECT_EQ(info.find("l1999")->shape, (std::vector<std::int64_t>{3, 2}));
    EXPECT_EQ(info.find("l5_bn"), nullptr);
    EXPECT_EQ(info.find("l20000"), nullptr);

    Outcome pairs = runCle({"pairs", in, "--json"});
    ASSERT_EQ(pairs.code, 0) << pairs.err;
    auto j = nlohmann::json::parse(pairs.out);
    // Natural name order: 20 chains of 1000 layers, cut after each wide layer.
    ASSERT_EQ(j["suggested"].size(), 20u);
    for (size_t c = 0; c < 20; ++c) {
        const auto& chain = j["suggested"][c]["layers"];
        ASSERT_EQ(chain.size(), 1000u);
        EXPECT_EQ(chain.front(), "l" + std::to_string(c * 1000));
        EXPECT_EQ(chain.back(), "l" + std::to_string(c * 1000 + 999));
    }
    ASSERT_EQ(j["rejected"].size(), 19u);
    EXPECT_EQ(j["rejected"][0]["layers"], (std::vector<std::string>{"l999", "l1000"}));
    EXPECT_NE(j["rejected"][0]["reason"].get<std::string>().find("channel mismatch"),
              std::string::npos);

    std::string out = dir.file("out.h5");
    Outcome eq = runCle(
        {"equalize", in, "-o", out, "--auto", "--accept-guesses", "-q", "--max-sweeps", "2"});
    ASSERT_EQ(eq.code, 3) << eq.err;  // written, not converged in two sweeps
    // Equalized layers in order: the wide layer's ranges spread to its chain, l5's batch norm was
    // folded (its running variance became 1 - epsilon), the rest kept.
    auto model = core::loadModel(out);
    ASSERT_EQ(model.layers.size(), size_t(kLayers));
    EXPECT_EQ(model.find("l19999")->info.shape, (std::vector<std::int64_t>{3, 2}));
    auto var = readFloats(out, "/l5_bn.running_var");
    EXPECT_NEAR(var[0], 1.0f - 1e-5f, 1e-6f);
}

TEST(ManyLayers, FindStaysRightWhenTheLayersChangeAfterIndexing) {
    core::ModelInfo info;
    for (const char* name : {"a", "b", "a"}) {
        core::LayerInfo l;
        l.name = name;
        info.layers.push_back(l);
    }
    EXPECT_EQ(info.find("b"), &info.layers[1]);  // not indexed yet
    info.indexLayers();
    EXPECT_EQ(info.find("a"), &info.layers[0]);  // the first of a name, as a scan gives
    EXPECT_EQ(info.find("c"), nullptr);
    core::LayerInfo c;
    c.name = "c";
    info.layers.push_back(c);  // added after indexing
    EXPECT_EQ(info.find("c"), &info.layers[3]);
    info.layers.erase(info.layers.begin());  // positions moved
    EXPECT_EQ(info.find("b"), &info.layers[0]);
    EXPECT_EQ(info.find("a"), &info.layers[1]);
    core::Model model;
    model.info = info;
    for (const auto& l : info.layers) model.layers.push_back({l, {}, {}});
    std::reverse(model.layers.begin(), model.layers.end());  // not in info's order
    EXPECT_EQ(model.find("b"), &model.layers[2]);
    EXPECT_EQ(model.find("x"), nullptr);
}

}  // namespace
