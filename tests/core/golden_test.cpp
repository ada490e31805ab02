// Every golden case: the reference's numbers, sweep count and per-sweep deltas.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cle/core/equalizer.h"
#include "test_util.h"

using namespace cle;

namespace {

nlohmann::json manifest() {
    std::ifstream in(test::dataPath("golden/manifest.json"));
    return nlohmann::json::parse(in);
}

float maxAbs(const std::vector<float>& v) {
    float m = 0;
    for (float x : v) m = std::max(m, std::abs(x));
    return m;
}

void expectClose(const std::vector<float>& got, const std::vector<float>& want,
                 const std::string& what) {
    ASSERT_EQ(got.size(), want.size()) << what;
    float tol = 1e-5f * std::max(maxAbs(want), 1e-30f);
    size_t bad = 0;
    for (size_t i = 0; i < got.size(); ++i)
        if (std::abs(got[i] - want[i]) > tol && bad++ < 3)
            ADD_FAILURE() << what << "[" << i << "]: " << got[i] << " vs " << want[i];
    EXPECT_EQ(bad, 0u) << what;
}

class Golden : public ::testing::TestWithParam<std::string> {};

TEST_P(Golden, MatchesReference) {
    auto c = manifest()[GetParam()];
    core::Model model = core::loadModel(test::dataPath("golden/" + c["input"].get<std::string>()));
    std::vector<core::Group> groups;
    for (const auto& g : c["groups"]) {
        auto parsed = core::parseGroups(g.get<std::string>());
        groups.insert(groups.end(), parsed.begin(), parsed.end());
    }
    core::EqualizeOptions options;
    options.threshold = c["threshold"].get<double>();
    auto result = core::equalize(model, core::expandGroups(groups), options);

    EXPECT_TRUE(result.summary.converged);
    EXPECT_EQ(result.summary.sweeps, c["sweeps"].get<int>());
    auto deltas = c["deltas"].get<std::vector<double>>();
    ASSERT_EQ(result.summary.deltas.size(), deltas.size());
    for (size_t i = 0; i < deltas.size(); ++i)
        EXPECT_NEAR(result.summary.deltas[i], deltas[i], 1e-4 * deltas[i]) << "sweep " << i + 1;
    for (const auto& h : result.summary.pairs)
        EXPECT_EQ(h.states.size(), size_t(result.summary.sweeps) + 1);

    std::string expected = test::dataPath("golden/" + c["expected"].get<std::string>());
    for (const auto& layer : result.layers) {
        expectClose(layer.weight.values, test::readFloats(expected, layer.info.weightPath),
                    layer.info.name + ".weight");
        if (layer.bias)
            expectClose(layer.bias->values, test::readFloats(expected, layer.info.biasPath),
                        layer.info.name + ".bias");
    }
    // Layers outside the pairs are not part of the result and stay as loaded.
    EXPECT_LE(result.layers.size(), model.layers.size());
}

std::vector<std::string> caseNames() {
    std::vector<std::string> names;
    const auto m = manifest();
    for (const auto& [k, v] : m.items()) names.push_back(k);
    return names;
}

INSTANTIATE_TEST_SUITE_P(Cases, Golden, ::testing::ValuesIn(caseNames()),
                         [](const auto& info) { return info.param; });

}  // namespace
