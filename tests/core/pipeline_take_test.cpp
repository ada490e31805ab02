// A run that takes the planned layers out of the loaded model (PipelineRequest::takeWeights,
// RunRequest::takeFrom) gives what a run on copies gives: the same sweeps, deltas, scales,
// layers, preview, absorbed biases, report and exported bytes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "cle/core/pipeline.h"
#include "keras_model.h"
#include "test_util.h"

using namespace cle;

namespace {

std::string fileBytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The report without its timings, the only part that differs from run to run.
nlohmann::json reportWithoutTimes(const std::string& path) {
    auto j = nlohmann::json::parse(fileBytes(path));
    j.erase("seconds");
    return j;
}

void expectSameLayers(const std::vector<core::Layer>& a, const std::vector<core::Layer>& b) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].info.name, b[i].info.name);
        EXPECT_EQ(a[i].weight.shape, b[i].weight.shape);
        EXPECT_EQ(a[i].weight.values, b[i].weight.values) << a[i].info.name;
        ASSERT_EQ(a[i].bias.has_value(), b[i].bias.has_value()) << a[i].info.name;
        if (a[i].bias) EXPECT_EQ(a[i].bias->values, b[i].bias->values) << a[i].info.name;
    }
}

void expectSameOutcome(const core::RunOutcome& a, const core::RunOutcome& b) {
    EXPECT_EQ(a.ending, b.ending);
    EXPECT_EQ(a.message, b.message);
    EXPECT_EQ(a.summary.sweeps, b.summary.sweeps);
    EXPECT_EQ(a.summary.deltas, b.summary.deltas);
    ASSERT_EQ(a.summary.pairs.size(), b.summary.pairs.size());
    for (size_t i = 0; i < a.summary.pairs.size(); ++i)
        EXPECT_EQ(a.summary.pairs[i].scale, b.summary.pairs[i].scale);
    ASSERT_EQ(a.summary.regions.size(), b.summary.regions.size());
    for (size_t i = 0; i < a.summary.regions.size(); ++i)
        EXPECT_EQ(a.summary.regions[i].scale, b.summary.regions[i].scale);
    expectSameLayers(a.layers, b.layers);
    const auto& qa = a.quantization;
    const auto& qb = b.quantization;
    ASSERT_EQ(qa.layers.size(), qb.layers.size());
    for (size_t i = 0; i < qa.layers.size(); ++i) {
        EXPECT_EQ(qa.layers[i].name, qb.layers[i].name);
        EXPECT_EQ(qa.layers[i].perTensorBefore, qb.layers[i].perTensorBefore);
        EXPECT_EQ(qa.layers[i].perChannelBefore, qb.layers[i].perChannelBefore);
        EXPECT_EQ(qa.layers[i].zeroFractionBefore, qb.layers[i].zeroFractionBefore);
        EXPECT_EQ(qa.layers[i].perTensorAfter, qb.layers[i].perTensorAfter);
        EXPECT_EQ(qa.layers[i].perChannelAfter, qb.layers[i].perChannelAfter);
    }
    EXPECT_EQ(qa.perTensorBefore.weightedMean, qb.perTensorBefore.weightedMean);
    EXPECT_EQ(qa.perTensorAfter.weightedMean, qb.perTensorAfter.weightedMean);
    ASSERT_EQ(a.absorbed.size(), b.absorbed.size());
    for (size_t i = 0; i < a.absorbed.size(); ++i)
        EXPECT_EQ(a.absorbed[i].absorbed, b.absorbed[i].absorbed);
    ASSERT_EQ(a.relu6Costs.size(), b.relu6Costs.size());
    for (size_t i = 0; i < a.relu6Costs.size(); ++i)
        EXPECT_EQ(a.relu6Costs[i].worst, b.relu6Costs[i].worst);
}

struct Case {
    std::string path;
    bool relu6 = false;
};

// The whole pipeline on `path`, suggested pairs with bias absorption, written to `dir`/`tag`.
core::RunOutcome run(const Case& c, bool take, const test::TempDir& dir, const std::string& tag,
                     std::shared_ptr<core::Model>* loaded = nullptr) {
    core::PipelineRequest r;
    r.load.path = c.path;
    r.pairs.suggest = true;
    r.pairs.acceptGuesses = true;
    r.pairs.allowRelu6 = c.relu6;
    r.absorbBias = true;
    r.takeWeights = take;
    const std::string suffix = c.path.substr(c.path.find_last_of('.'));
    r.output = {dir.file(tag + suffix), dir.file(tag + ".json"), false};
    if (loaded)
        r.planned = [&](const core::LoadedInput& in, const core::RunOutcome&) {
            *loaded = in.model;
        };
    core::Feedback feedback;
    return core::runPipeline(r, feedback);
}

// conv -> batch norm -> ReLU6 -> conv -> batch norm -> ReLU -> conv, with betas high enough
// for bias absorption: a file whose run relaxes a ReLU6 and absorbs biases.
std::string relu6Chain(const test::TempDir& dir) {
    test::KerasModel m;
    m.conv("a", 3, 8).batchNorm("a_bn", 8).values("beta", std::vector<double>(8, 5.0));
    m.layer("ReLU", "a_relu6", {{"max_value", 6.0}});
    m.conv("b", 8, 8).batchNorm("b_bn", 8).values("beta", std::vector<double>(8, 4.0));
    m.layer("ReLU", "b_relu").conv("c", 8, 4);
    const std::string path = dir.file("relu6_chain.h5");
    m.write(path);
    return path;
}

}  // namespace

TEST(PipelineTake, TakingTheWeightsGivesTheSameOutcomeAndTheSameFile) {
    test::TempDir inputs;
    const std::vector<Case> cases = {
        {relu6Chain(inputs), true},
        {test::samplePath("tiny_face_detector_keras.h5")},
        {test::samplePath("tiny_face_detector_torch.h5")},
        {test::dataPath("eval/depthwise.h5")},
        {test::dataPath("onnx/blazeface_front_128.onnx"), true},
    };
    bool absorbed = false, relaxed = false, folded = false;
    for (const auto& c : cases) {
        SCOPED_TRACE(c.path);
        test::TempDir dir;
        const core::RunOutcome copied = run(c, false, dir, "copied");
        const core::RunOutcome taken = run(c, true, dir, "taken");
        ASSERT_TRUE(copied.exported);
        ASSERT_TRUE(taken.exported);
        expectSameOutcome(copied, taken);
        const std::string suffix = c.path.substr(c.path.find_last_of('.'));
        const std::string out = fileBytes(dir.file("copied" + suffix));
        EXPECT_FALSE(out.empty());
        EXPECT_TRUE(out == fileBytes(dir.file("taken" + suffix))) << "the exported files differ";
        EXPECT_EQ(reportWithoutTimes(dir.file("copied.json")),
                  reportWithoutTimes(dir.file("taken.json")));
        for (const auto& a : taken.absorbed) absorbed = absorbed || a.channels > 0;
        relaxed = relaxed || !taken.plan.relu6.empty();
        folded = folded || !taken.plan.batchNorms.empty();
    }
    // The cases exercise what reads the loaded model after the fold.
    EXPECT_TRUE(absorbed);
    EXPECT_TRUE(relaxed);
    EXPECT_TRUE(folded);
}

TEST(PipelineTake, TheLoadedModelKeepsItsWeightsUnlessTheyAreTaken) {
    const Case c{test::samplePath("tiny_face_detector_keras.h5")};
    for (bool take : {false, true}) {
        SCOPED_TRACE(take ? "taken" : "copied");
        test::TempDir dir;
        std::shared_ptr<core::Model> loaded;
        const core::RunOutcome out = run(c, take, dir, "out", &loaded);
        ASSERT_TRUE(loaded);
        ASSERT_FALSE(out.layers.empty());
        for (const auto& changed : out.layers) {
            const core::Layer* l = loaded->find(changed.info.name);
            ASSERT_TRUE(l);
            EXPECT_EQ(l->info.name, changed.info.name);  // the layer list stays whole
            EXPECT_EQ(l->weight.values.empty(), take) << changed.info.name;
            if (take) EXPECT_FALSE(l->bias.has_value());
        }
        ASSERT_EQ(loaded->layers.size(), loaded->info.layers.size());
        const size_t kept =
            size_t(std::count_if(loaded->layers.begin(), loaded->layers.end(),
                                 [](const core::Layer& l) { return !l.weight.values.empty(); }));
        EXPECT_EQ(kept, take ? loaded->layers.size() - out.layers.size() : loaded->layers.size());
    }
}

// The run stage on its own, continuing from an earlier outcome as the application does: taking
// the layers out of a freshly loaded model gives what copying them from a shared one gives.
TEST(PipelineTake, RunStageTakingFromAFreshModelMatchesOneOnCopies) {
    core::LoadRequest load;
    load.path = test::dataPath("eval/depthwise.h5");
    core::Feedback feedback;
    const core::LoadedInput shared = core::loadInput(load, feedback);
    core::PairChoice choice;
    choice.suggest = true;
    choice.acceptGuesses = true;
    const core::RunPlan plan = core::planRun(shared, choice);
    ASSERT_GE(plan.pairs.size(), 2u);
    ASSERT_FALSE(plan.batchNorms.empty());
    core::RunRequest first;
    first.model = shared.model;
    first.plan = plan;
    first.plan.pairs = {plan.pairs.front()};
    first.options.maxSweeps = 3;
    const auto earlier = std::make_shared<core::RunOutcome>(core::runEqualization(first, feedback));
    core::RunRequest rest = first;
    rest.plan = plan;
    rest.options.maxSweeps = 100;
    rest.previous = earlier;

    for (const auto* r : {&first, &rest}) {
        core::RunRequest taking = *r;
        taking.model = nullptr;
        taking.takeFrom = core::loadInput(load, feedback).model;
        const core::RunOutcome copied = core::runEqualization(*r, feedback);
        const core::RunOutcome taken = core::runEqualization(taking, feedback);
        EXPECT_TRUE(taken.completed()) << taken.message;
        expectSameOutcome(copied, taken);
        EXPECT_TRUE(taking.takeFrom->find(plan.pairs.front().first)->weight.values.empty());
    }
}
