// Regions: residual blocks, projection shortcuts, chains of Adds and Concatenates are found in the
// layer graph, equalized with one factor per channel, and the network keeps its function; what
// would change it is refused with the reason.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cle/core/equalizer.h"
#include "cli_runner.h"
#include "keras_forward.h"
#include "keras_model.h"
#include "test_util.h"

using namespace cle;
using test::KerasModel;
using test::Names;

namespace {

nlohmann::json pairsJson(const std::string& file) {
    auto r = test::runCle({"pairs", file, "--json"});
    EXPECT_EQ(r.code, 0) << r.err;
    return nlohmann::json::parse(r.out);
}

Names sorted(Names v) {
    std::sort(v.begin(), v.end());
    return v;
}

// The region with these sources and sinks in `list` (regions or rejected_regions), or null.
const nlohmann::json* findRegion(const nlohmann::json& list, const Names& sources,
                                 const Names& sinks) {
    for (const auto& r : list)
        if (sorted(r["sources"].get<Names>()) == sorted(sources) &&
            sorted(r["sinks"].get<Names>()) == sorted(sinks))
            return &r;
    return nullptr;
}

// Equalizes `in` with --auto and returns the report; the output must compute the same function.
nlohmann::json equalizeKeepsFunction(const std::string& in, const test::TempDir& dir,
                                     std::vector<std::string> extra = {}, int code = 0) {
    const std::string out = dir.file("eq.h5"), report = dir.file("r.json");
    std::vector<std::string> args = {"equalize", in,     "-o",      out,      "--auto",
                                     "--report", report, "--quiet", "--force"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = test::runCle(args);
    EXPECT_EQ(r.code, code) << r.err << r.out;
    for (unsigned seed : {1u, 2u}) {
        test::Image x{8, 8, 3, test::randomValues(8 * 8 * 3, 1.0, seed)};
        EXPECT_LT(test::relativeDifference(test::kerasForward(in, x), test::kerasForward(out, x)),
                  1e-5);
    }
    std::ifstream f(report);
    return nlohmann::json::parse(f);
}

// A 3x3 convolution that keeps the image size.
test::json same(test::json config = test::json::object()) {
    config["padding"] = "same";
    return config;
}

// stem: conv-BN-ReLU; then conv1-BN-ReLU-conv2-BN + identity shortcut, ReLU, head conv.
KerasModel basicBlock() {
    KerasModel m;
    m.conv("stem", 3, 8, same()).batchNorm("bn_s", 8).activation("relu_s", "relu");
    m.conv("conv1", 8, 8, same()).batchNorm("bn1", 8).activation("relu1", "relu");
    m.conv("conv2", 8, 8, same()).batchNorm("bn2", 8);
    m.layer("Add", "add", {}, Names{"bn2", "relu_s"}).activation("relu_out", "relu");
    m.conv("head", 8, 4, same());
    return m;
}

}  // namespace

TEST(Region, ResidualBasicBlockIsOneRegionAndKeepsItsFunction) {
    test::TempDir dir;
    const std::string in = dir.file("block.h5");
    basicBlock().write(in);
    auto plan = pairsJson(in);
    ASSERT_NE(findRegion(plan["regions"], {"stem", "conv2"}, {"conv1", "head"}), nullptr)
        << plan.dump(1);
    for (const auto& r : plan["rejected"])  // the region covers every candidate
        EXPECT_NE(r["reason"].get<std::string>().find("equalized in a region instead"),
                  std::string::npos)
            << r;
    auto report = equalizeKeepsFunction(in, dir);
    ASSERT_EQ(report["regions"].size(), 1u);
    const auto& r = report["regions"][0];
    EXPECT_EQ(r["channels"], 8);
    EXPECT_LT(r["imbalance"]["after"].get<double>(), r["imbalance"]["before"].get<double>());
    // Both sources' batch norms are folded (bn2 sits between conv2 and the Add).
    std::vector<std::string> folded;
    for (const auto& b : report["folded_batch_norms"]) folded.push_back(b["batch_norm"]);
    for (const char* bn : {"bn_s", "bn1", "bn2"})
        EXPECT_NE(std::find(folded.begin(), folded.end(), bn), folded.end()) << bn;
}

TEST(Region, OneSweepMatchesTheLargestSourceAndSinkRangePerChannel) {
    test::TempDir dir;
    const std::string in = dir.file("block.h5");
    basicBlock().write(in);
    auto report = equalizeKeepsFunction(in, dir, {"--max-sweeps", "1"}, 3);
    const auto& ranges = report["regions"][0]["ranges"];
    auto before = ranges["before"], after = ranges["after"];
    const auto scales = report["regions"][0]["scales"].get<std::vector<double>>();
    for (size_t c = 0; c < 8; ++c) {
        // s = sqrt(R_src / R_sink) makes both sqrt(R_src * R_sink) when the region is applied.
        const double out = after["out"][c], sinkRange = after["in"][c];
        EXPECT_NEAR(out, sinkRange, 1e-5 * out) << c;
        EXPECT_NE(scales[c], 1.0) << c;
    }
}

TEST(Region, BottleneckWithProjectionShortcut) {
    test::TempDir dir;
    const std::string in = dir.file("bottleneck.h5");
    KerasModel m;
    m.conv("stem", 3, 8, same()).batchNorm("bn_s", 8).activation("relu_s", "relu");
    m.conv("c1", 8, 4, same()).batchNorm("bn1", 4).activation("relu1", "relu");
    m.conv("c2", 4, 4, same()).batchNorm("bn2", 4).activation("relu2", "relu");
    m.conv("c3", 4, 16, same()).batchNorm("bn3", 16);
    m.conv("proj", 8, 16, same(), Names{"relu_s"}).batchNorm("bn_p", 16);
    m.layer("Add", "add", {}, Names{"bn3", "bn_p"}).activation("relu_out", "relu");
    m.conv("head", 16, 4, same());
    m.write(in);
    auto plan = pairsJson(in);
    EXPECT_NE(findRegion(plan["regions"], {"c3", "proj"}, {"head"}), nullptr) << plan.dump(1);
    EXPECT_NE(findRegion(plan["regions"], {"stem"}, {"c1", "proj"}), nullptr) << plan.dump(1);
    auto report = equalizeKeepsFunction(in, dir);
    EXPECT_EQ(report["regions"].size(), 2u);
}

TEST(Region, InvertedResidualStageIsOneRegionThroughThreeAdds) {
    test::TempDir dir;
    const std::string in = dir.file("stage.h5");
    KerasModel m;
    m.conv("stem", 3, 8, same()).batchNorm("bn_s", 8);
    std::string x = "bn_s";
    for (int k = 1; k <= 3; ++k) {
        const std::string b = std::to_string(k);
        m.conv("expand" + b, 8, 16, same(), Names{x})
            .batchNorm("bn_e" + b, 16)
            .activation("relu" + b, "relu");
        m.conv("project" + b, 16, 8, same()).batchNorm("bn_p" + b, 8);
        m.layer("Add", "add" + b, {}, Names{x, "bn_p" + b});
        x = "add" + b;
    }
    m.conv("head", 8, 4, same(), Names{x});
    m.write(in);
    auto plan = pairsJson(in);
    ASSERT_NE(findRegion(plan["regions"], {"stem", "project1", "project2", "project3"},
                         {"expand1", "expand2", "expand3", "head"}),
              nullptr)
        << plan.dump(1);
    auto report = equalizeKeepsFunction(in, dir);
    ASSERT_EQ(report["regions"].size(), 1u);
    EXPECT_EQ(report["pairs"].size(), 3u);  // expand -> project inside each block
}

TEST(Region, ConcatenateGivesEachSourceItsSlice) {
    test::TempDir dir;
    const std::string in = dir.file("concat.h5");
    KerasModel m;
    m.conv("stem", 3, 8, same({{"activation", "relu"}}));
    m.conv("a", 8, 4, same({{"activation", "relu"}}), Names{"stem"});
    m.conv("b", 8, 6, same({{"activation", "relu"}}), Names{"stem"});
    m.layer("Concatenate", "cat", {{"axis", -1}}, Names{"a", "b"});
    m.conv("c", 10, 4, same());
    m.write(in);
    auto plan = pairsJson(in);
    EXPECT_NE(findRegion(plan["regions"], {"a", "b"}, {"c"}), nullptr) << plan.dump(1);
    EXPECT_NE(findRegion(plan["regions"], {"stem"}, {"a", "b"}), nullptr) << plan.dump(1);
    auto report = equalizeKeepsFunction(in, dir);
    ASSERT_EQ(report["regions"].size(), 2u);
    for (const auto& r : report["regions"])
        if (r["sinks"] == Names{"c"}) EXPECT_EQ(r["channels"], 10);
}

TEST(Region, PairsFileNamesRegionsAndAWrongOneIsRefused) {
    test::TempDir dir;
    const std::string in = dir.file("block.h5");
    basicBlock().write(in);
    {
        std::ofstream f(dir.file("regions.json"));
        f << R"({"groups": [["conv1", "conv2"]],
                 "regions": [{"sources": ["conv2", "stem"], "sinks": ["head", "conv1"]}]})";
        std::ofstream g(dir.file("wrong.json"));
        g << R"({"regions": [{"sources": ["conv2"], "sinks": ["head"]}]})";
    }
    auto ok = test::runCle({"equalize", in, "-o", dir.file("o.h5"), "--pairs-file",
                            dir.file("regions.json"), "--report", dir.file("r.json"), "--quiet"});
    ASSERT_EQ(ok.code, 0) << ok.err;
    std::ifstream f(dir.file("r.json"));
    auto report = nlohmann::json::parse(f);
    EXPECT_EQ(report["regions"].size(), 1u);
    EXPECT_EQ(report["pairs"].size(), 1u);
    test::Image x{8, 8, 3, test::randomValues(8 * 8 * 3, 1.0, 7)};
    EXPECT_LT(test::relativeDifference(test::kerasForward(in, x),
                                       test::kerasForward(dir.file("o.h5"), x)),
              1e-5);
    auto wrong = test::runCle(
        {"equalize", in, "-o", dir.file("w.h5"), "--pairs-file", dir.file("wrong.json")});
    EXPECT_EQ(wrong.code, 1);
    EXPECT_NE(wrong.err.find("no region with exactly these sources and sinks"), std::string::npos)
        << wrong.err;
}

TEST(Region, ShortcutFromTheInputImageIsRefused) {
    test::TempDir dir;
    const std::string in = dir.file("input-shortcut.h5");
    KerasModel m;
    m.conv("conv1", 3, 8, same({{"activation", "relu"}}));
    m.conv("conv2", 8, 3, same());
    m.layer("Add", "add", {}, Names{"conv2", "input"}).activation("relu_out", "relu");
    m.conv("head", 3, 4, same());
    m.write(in);
    auto plan = pairsJson(in);
    EXPECT_TRUE(plan["regions"].empty()) << plan.dump(1);
    const auto* r = findRegion(plan["rejected_regions"], {"conv2"}, {"head"});
    ASSERT_NE(r, nullptr) << plan.dump(1);
    EXPECT_NE((*r)["reason"].get<std::string>().find("identity shortcut from the input"),
              std::string::npos);
}

TEST(Region, AddIntoTheNetworkOutputIsRefused) {
    test::TempDir dir;
    const std::string in = dir.file("add-output.h5");
    KerasModel m;
    m.conv("stem", 3, 8, same({{"activation", "relu"}}));
    m.conv("conv1", 8, 8, same({{"activation", "relu"}}));
    m.conv("conv2", 8, 8, same());
    m.layer("Add", "add", {}, Names{"conv2", "stem"});
    m.write(in);
    auto plan = pairsJson(in);
    EXPECT_TRUE(plan["regions"].empty()) << plan.dump(1);
    const auto* r = findRegion(plan["rejected_regions"], {"stem", "conv2"}, {"conv1"});
    ASSERT_NE(r, nullptr) << plan.dump(1);
    EXPECT_NE((*r)["reason"].get<std::string>().find("'add' is a model output"), std::string::npos)
        << (*r)["reason"];
}

TEST(Region, MultiplyIsRefused) {
    test::TempDir dir;
    const std::string in = dir.file("multiply.h5");
    KerasModel m;
    m.conv("stem", 3, 8, same({{"activation", "relu"}}));
    m.conv("gate", 8, 8, same({{"activation", "relu"}}));
    m.layer("Multiply", "mul", {}, Names{"stem", "gate"});
    m.conv("head", 8, 4, same());
    m.write(in);
    auto plan = pairsJson(in);
    EXPECT_TRUE(plan["regions"].empty()) << plan.dump(1);
    const auto* r = findRegion(plan["rejected_regions"], {"stem"}, {"gate"});
    ASSERT_NE(r, nullptr) << plan.dump(1);
    EXPECT_NE((*r)["reason"].get<std::string>().find("'mul' (Multiply) does not commute"),
              std::string::npos)
        << (*r)["reason"];
    auto eq = test::runCle({"equalize", in, "-o", dir.file("o.h5"), "--auto"});
    EXPECT_EQ(eq.code, 1);  // nothing left to equalize
}

namespace {

core::Layer linear(const std::string& name, int out, int in, unsigned seed) {
    core::Layer l;
    l.info.name = name;
    l.info.kind = "Linear";
    l.info.shape = {out, in};
    l.info.weightPath = "/" + name + ".weight";
    l.info.biasPath = "/" + name + ".bias";
    l.weight.shape = {out, in};
    auto v = test::randomValues(size_t(out * in), 1.0, seed);
    for (int o = 0; o < out; ++o)  // very different channel scales
        for (int i = 0; i < in; ++i) v[size_t(o * in + i)] *= std::pow(3.0, (o + seed) % 4);
    l.weight.values.assign(v.begin(), v.end());
    auto b = test::randomValues(size_t(out), 1.0, seed + 100);
    l.bias = core::Tensor{{out}, std::vector<float>(b.begin(), b.end())};
    return l;
}

core::Model model(std::vector<core::Layer> layers) {
    core::Model m;
    for (auto& l : layers) {
        m.info.layers.push_back(l.info);
        m.layers.push_back(std::move(l));
    }
    return m;
}

const core::Layer& layer(const std::vector<core::Layer>& layers, const std::string& name) {
    return *std::find_if(layers.begin(), layers.end(),
                         [&](const core::Layer& l) { return l.info.name == name; });
}

// W_c (relu(W_a x + b_a) + relu(W_b x + b_b)) + b_c in double.
std::vector<double> residual(const std::vector<core::Layer>& ls, const std::vector<double>& x) {
    auto dense = [](const core::Layer& l, const std::vector<double>& in, bool relu) {
        const auto out = size_t(l.weight.shape[0]), n = size_t(l.weight.shape[1]);
        std::vector<double> y(out);
        for (size_t o = 0; o < out; ++o) {
            double s = l.bias->values[o];
            for (size_t i = 0; i < n; ++i) s += double(l.weight.values[o * n + i]) * in[i];
            y[o] = relu ? std::max(0.0, s) : s;
        }
        return y;
    };
    auto a = dense(layer(ls, "a"), x, true), b = dense(layer(ls, "b"), x, true);
    for (size_t k = 0; k < a.size(); ++k) a[k] += b[k];
    return dense(layer(ls, "c"), a, false);
}

core::Region addRegion() {
    core::Region r;
    r.sources = {"a", "b"};
    r.sinks = {"c"};
    r.sourceChannels = {{0, 1, 2, 3}, {0, 1, 2, 3}};
    r.sinkChannels = {{0, 1, 2, 3}};
    r.channels = 4;
    return r;
}

}  // namespace

TEST(RegionEngine, FactorUsesTheLargestSourceRangeAndKeepsTheFunction) {
    core::Model m = model({linear("a", 4, 3, 1), linear("b", 4, 3, 2), linear("c", 2, 4, 3)});
    core::EqualizeOptions one;
    one.maxSweeps = 1;
    auto result = core::equalize(m, {}, {addRegion()}, one);
    ASSERT_EQ(result.summary.regions.size(), 1u);
    const auto& h = result.summary.regions[0];
    for (size_t c = 0; c < 4; ++c) {
        auto range = [](const core::Layer& l, size_t row) {
            const auto n = size_t(l.weight.shape[1]);
            auto first = l.weight.values.begin() + long(row * n);
            auto [lo, hi] = std::minmax_element(first, first + long(n));
            return double(*hi - *lo);
        };
        double src = std::max(range(m.layers[0], c), range(m.layers[1], c));
        // Input channel c of the sink is column c of its [2, 4] weight.
        const auto& w = m.layers[2].weight.values;
        const double sink = std::fabs(double(w[c]) - double(w[4 + c]));
        EXPECT_NEAR(h.scale[c], std::sqrt(src / sink), 1e-5 * std::sqrt(src / sink)) << c;
    }
    auto converged = core::equalize(m, {}, {addRegion()});
    EXPECT_TRUE(converged.summary.converged);
    for (unsigned seed : {5u, 6u}) {
        auto x = test::randomValues(3, 1.0, seed);
        auto before = residual(m.layers, x), after = residual(converged.layers, x);
        for (size_t k = 0; k < before.size(); ++k)
            EXPECT_NEAR(after[k], before[k], 1e-6 * (1 + std::fabs(before[k]))) << k;
    }
}

TEST(RegionEngine, AChainAsARegionGivesThePairsNumbers) {
    core::Model m = model({linear("a", 6, 3, 1), linear("c", 2, 6, 3)});
    core::Region r;
    r.sources = {"a"};
    r.sinks = {"c"};
    r.sourceChannels = {{0, 1, 2, 3, 4, 5}};
    r.sinkChannels = {{0, 1, 2, 3, 4, 5}};
    r.channels = 6;
    auto pair = core::equalize(m, {{"a", "c"}});
    auto region = core::equalize(m, {}, {r});
    EXPECT_EQ(pair.summary.sweeps, region.summary.sweeps);
    EXPECT_EQ(pair.summary.deltas, region.summary.deltas);
    for (const char* name : {"a", "c"})
        EXPECT_EQ(layer(pair.layers, name).weight.values, layer(region.layers, name).weight.values)
            << name;
}

// A depthwise convolution reading the shortcut is a sink: its kernel's channel c takes channel
// c's factor (its bias stays), and the network keeps its function.
TEST(Region, DepthwiseSinkReadsTheShortcut) {
    test::TempDir dir;
    const std::string in = dir.file("dw.h5");
    KerasModel m;
    m.conv("stem", 3, 8, same()).batchNorm("bn_s", 8).activation("relu_s", "relu");
    m.layer("DepthwiseConv2D", "dw", same())
        .weights({{"depthwise_kernel", {3, 3, 8, 1}}, {"bias", {8}}});
    m.activation("relu_d", "relu");
    m.conv("project", 8, 8, same()).batchNorm("bn_p", 8);
    m.layer("Add", "add", {}, Names{"bn_p", "relu_s"});
    m.conv("head", 8, 4, same());
    m.write(in);
    auto plan = pairsJson(in);
    ASSERT_NE(findRegion(plan["regions"], {"stem", "project"}, {"dw", "head"}), nullptr)
        << plan.dump(1);
    auto report = equalizeKeepsFunction(in, dir);
    ASSERT_EQ(report["regions"].size(), 1u);
}
