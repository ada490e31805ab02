// The one pipeline: stages, sweep events, feedback (cancel), how a run ends, continuing.
#include <gtest/gtest.h>

#include <filesystem>

#include "cle/core/error.h"
#include "cle/core/pipeline.h"
#include "test_util.h"

using namespace cle;

namespace {

core::Layer linear(const std::string& name, int out, int in, unsigned seed) {
    core::Layer l;
    l.info.name = name;
    l.info.kind = "Linear";
    l.info.shape = {out, in};
    l.info.weightPath = "/" + name + ".weight";
    l.weight.shape = {out, in};
    auto v = test::randomValues(size_t(out * in), 1.0, seed);
    for (int o = 0; o < out; ++o)  // channels of very different ranges
        for (int i = 0; i < in; ++i) v[size_t(o * in + i)] *= (1 + o % 5) * (1 + o % 5);
    l.weight.values.assign(v.begin(), v.end());
    return l;
}

std::shared_ptr<const core::Model> chain() {
    auto m = std::make_shared<core::Model>();
    for (auto l : {linear("a", 8, 6, 1), linear("b", 7, 8, 2), linear("c", 5, 7, 3),
                   linear("unpaired", 4, 5, 4)}) {
        m->info.layers.push_back(l.info);
        m->layers.push_back(std::move(l));
    }
    m->info.indexLayers();
    return m;
}

core::RunRequest request(std::shared_ptr<const core::Model> model, int maxSweeps = 1000) {
    core::RunRequest r;
    r.model = std::move(model);
    r.plan.pairs = {{"a", "b"}, {"b", "c"}};
    r.options.maxSweeps = maxSweeps;
    return r;
}

}  // namespace

TEST(Pipeline, SweepEventsRebuildTheHistoryAndCarryScalesDuringTheRun) {
    core::Feedback feedback;
    std::vector<core::SweepEvent> events;
    feedback.onSweep = [&](const core::SweepEvent& e) { events.push_back(e); };
    const core::RunOutcome out = core::runEqualization(request(chain()), feedback);
    ASSERT_EQ(out.ending, core::Ending::Converged);
    ASSERT_GE(out.summary.sweeps, 2);
    ASSERT_EQ(events.size(), size_t(out.summary.sweeps) + 1);
    EXPECT_EQ(events.front().sweep, 0);
    // After the first sweep the scales so far are known, before the run ends.
    ASSERT_EQ(events[1].pairs.size(), 2u);
    EXPECT_EQ(events[1].pairs[0].scale.size(), 8u);
    EXPECT_NE(events[1].pairs[0].scale, std::vector<float>(8, 1.f));
    EXPECT_NE(events[1].pairs[0].scale, events.back().pairs[0].scale);

    core::Summary history;
    for (const auto& e : events) core::appendSweep(history, e);
    EXPECT_EQ(history.deltas, out.summary.deltas);
    EXPECT_EQ(history.sweeps, out.summary.sweeps);
    for (size_t i = 0; i < history.pairs.size(); ++i) {
        EXPECT_EQ(history.pairs[i].first, out.summary.pairs[i].first);
        EXPECT_EQ(history.pairs[i].states.size(), out.summary.pairs[i].states.size());
        EXPECT_EQ(history.pairs[i].states.back().out, out.summary.pairs[i].states.back().out);
        EXPECT_EQ(history.pairs[i].scale, out.summary.pairs[i].scale);
    }
}

// Two sources sharing their channels (as at an Add) and one sink: the region's ranges and scales
// travel with every sweep, so a live history has them before the run ends.
TEST(Pipeline, SweepEventsCarryRegionsDuringTheRun) {
    auto m = std::make_shared<core::Model>();
    for (auto l : {linear("a", 8, 6, 1), linear("d", 8, 6, 5), linear("b", 7, 8, 2)}) {
        m->info.layers.push_back(l.info);
        m->layers.push_back(std::move(l));
    }
    m->info.indexLayers();
    core::RunRequest r;
    r.model = m;
    std::vector<int> channels{0, 1, 2, 3, 4, 5, 6, 7};
    r.plan.regions = {{{"a", "d"}, {"b"}, {channels, channels}, {channels}, 8}};
    core::Feedback feedback;
    std::vector<core::SweepEvent> events;
    feedback.onSweep = [&](const core::SweepEvent& e) { events.push_back(e); };
    const core::RunOutcome out = core::runEqualization(r, feedback);
    ASSERT_EQ(out.ending, core::Ending::Converged) << out.message;
    ASSERT_GE(out.summary.sweeps, 2);
    ASSERT_EQ(events.size(), size_t(out.summary.sweeps) + 1);
    ASSERT_EQ(events[1].regions.size(), 1u);
    EXPECT_EQ(events[1].regions[0].region.sources, (std::vector<std::string>{"a", "d"}));
    EXPECT_EQ(events[1].regions[0].outRange.size(), 8u);
    EXPECT_NE(events[1].regions[0].scale, std::vector<float>(8, 1.f));
    EXPECT_NE(events[1].regions[0].scale, events.back().regions[0].scale);
    EXPECT_EQ(events[0].regions[0].scale, std::vector<float>(8, 1.f));

    core::Summary history;
    for (const auto& e : events) core::appendSweep(history, e);
    ASSERT_EQ(history.regions.size(), 1u);
    const auto& h = history.regions[0];
    const auto& want = out.summary.regions[0];
    EXPECT_EQ(h.region.sinks, want.region.sinks);
    EXPECT_EQ(h.region.channels, 8);
    ASSERT_EQ(h.states.size(), want.states.size());
    for (size_t k = 0; k < h.states.size(); ++k) {
        EXPECT_EQ(h.states[k].out, want.states[k].out);
        EXPECT_EQ(h.states[k].in, want.states[k].in);
    }
    EXPECT_EQ(h.scale, want.scale);
}

TEST(Pipeline, EndsAtTheSweepLimitAndSaysSo) {
    core::Feedback feedback;
    const core::RunOutcome out = core::runEqualization(request(chain(), 1), feedback);
    EXPECT_EQ(out.ending, core::Ending::SweepLimit);
    EXPECT_TRUE(out.completed());
    EXPECT_NE(out.message.find("limit of 1 sweeps"), std::string::npos) << out.message;
}

TEST(Pipeline, CancelThroughTheFeedbackLeavesTheLoadedModelAndNoResult) {
    auto model = chain();
    const std::vector<float> before = model->layers[0].weight.values;
    core::Feedback feedback;
    feedback.onSweep = [&](const core::SweepEvent& e) {
        if (e.sweep == 2) feedback.cancel();
    };
    const core::RunOutcome out = core::runEqualization(request(model), feedback);
    EXPECT_EQ(out.ending, core::Ending::Cancelled);
    EXPECT_FALSE(out.completed());
    EXPECT_TRUE(out.layers.empty());
    EXPECT_EQ(out.summary.deltas.size(), 2u);
    EXPECT_EQ(model->layers[0].weight.values, before);
}

TEST(Pipeline, ChangesOnlyThePairedLayersAndContinuesFromAnEarlierOutcome) {
    auto model = chain();
    core::Feedback feedback;
    core::RunRequest first = request(model, 3);
    first.plan.pairs = {{"a", "b"}};
    auto earlier = std::make_shared<core::RunOutcome>(core::runEqualization(first, feedback));
    ASSERT_EQ(earlier->layers.size(), 2u);

    core::RunRequest next = request(model);
    next.plan.pairs = {{"b", "c"}};
    next.previous = earlier;
    const core::RunOutcome out = core::runEqualization(next, feedback);
    EXPECT_EQ(out.plan.pairs.size(), 2u);  // merged with the earlier plan
    ASSERT_EQ(out.layers.size(), 3u);
    // "a" is the earlier result, untouched by this run; "b" went on from the earlier result.
    EXPECT_EQ(out.layers[0].info.name, "a");
    EXPECT_EQ(out.layers[0].weight.values, earlier->layers[0].weight.values);
    EXPECT_NE(out.layers[1].weight.values, earlier->layers[1].weight.values);
    EXPECT_NE(out.layers[1].weight.values, model->layers[1].weight.values);
    EXPECT_EQ(out.layers[2].info.name, "c");
    // The earlier outcome stays whole for the views that show it until it is replaced.
    ASSERT_EQ(earlier->layers.size(), 2u);
    EXPECT_EQ(earlier->layers[0].info.name, "a");
    EXPECT_FALSE(earlier->layers[0].weight.values.empty());
    EXPECT_FALSE(earlier->layers[1].weight.values.empty());
}

TEST(Pipeline, RunsEveryStageOnAFileAndTimesThem) {
    test::TempDir dir;
    core::PipelineRequest r;
    r.load.path = test::samplePath("tiny_face_detector_keras.h5");
    r.pairs.suggest = true;
    r.output = {dir.file("out.h5"), dir.file("report.json"), false};
    int planned = 0;
    r.planned = [&](const core::LoadedInput& in, const core::RunOutcome& o) {
        ++planned;
        EXPECT_FALSE(o.plan.pairs.empty());
        EXPECT_TRUE(in.topology);
    };
    core::Feedback feedback;
    std::vector<core::Stage> stages;
    feedback.onProgress = [&](core::Stage s, double) { stages.push_back(s); };
    const core::RunOutcome out = core::runPipeline(r, feedback);
    EXPECT_EQ(planned, 1);
    EXPECT_EQ(out.ending, core::Ending::Converged);
    EXPECT_TRUE(out.exported);
    EXPECT_TRUE(std::filesystem::exists(dir.file("out.h5")));
    EXPECT_TRUE(std::filesystem::exists(dir.file("report.json")));
    EXPECT_GT(out.seconds.load, 0);
    EXPECT_GT(out.seconds.equalize, 0);
    EXPECT_GT(out.seconds.exported, 0);
    for (auto s : {core::Stage::Load, core::Stage::Fold, core::Stage::Preview,
                   core::Stage::Equalize, core::Stage::Export})
        EXPECT_NE(std::find(stages.begin(), stages.end(), s), stages.end()) << toString(s);
}

TEST(Pipeline, ACheckBeforeExportCanRefuseTheResult) {
    test::TempDir dir;
    core::PipelineRequest r;
    r.load.path = test::samplePath("tiny_face_detector_keras.h5");
    r.pairs.suggest = true;
    r.output.output = dir.file("out.h5");
    r.beforeExport = [](core::RunOutcome&) { return false; };
    core::Feedback feedback;
    const core::RunOutcome out = core::runPipeline(r, feedback);
    EXPECT_FALSE(out.exported);
    EXPECT_FALSE(std::filesystem::exists(dir.file("out.h5")));
}

TEST(Pipeline, OnlyTheLoadStageReadsTheInput) {
    // A file with a batch norm to fold: once loaded, the file may go away and the run still
    // folds, previews and equalizes, from what the model carries.
    test::TempDir dir;
    const std::string copy = dir.file("depthwise.h5");
    std::filesystem::copy_file(test::dataPath("eval/depthwise.h5"), copy);
    core::LoadRequest load;
    load.path = copy;
    core::Feedback feedback;
    const core::LoadedInput input = core::loadInput(load, feedback);
    EXPECT_TRUE(input.model->parametersLoaded);
    EXPECT_FALSE(input.model->parameters.empty());
    core::RunRequest run;
    run.model = input.model;
    run.plan = core::planRun(input, {{}, true, true, false});
    ASSERT_FALSE(run.plan.batchNorms.empty());
    std::filesystem::remove(copy);

    const core::RunOutcome out = core::runEqualization(run, feedback);
    EXPECT_TRUE(out.completed()) << out.message;
    const auto extras = core::exportExtras(*input.model, out.plan, out.layers);
    EXPECT_FALSE(extras.datasets.empty());
}
