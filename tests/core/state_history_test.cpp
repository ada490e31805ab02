// The bounded history of a long run: at most kMaxRecordedStates states per pair, the first and
// last exact, the kept ones evenly spaced and exactly as recorded; the live history thinned as
// the engine's.
#include <gtest/gtest.h>

#include "cle/core/pipeline.h"
#include "test_util.h"

using namespace cle;

namespace {

// One pair whose recorded state after sweep k holds k itself.
core::Summary countingHistory(int sweeps, size_t limit) {
    core::Summary s;
    s.pairs.resize(1);
    for (int k = 0; k <= sweeps; ++k) {
        s.pairs[0].states.push_back({{float(k)}, {float(-k)}});
        core::recordStateSweep(s, k, limit);
    }
    return s;
}

core::Layer tinyLinear(const std::string& name, int out, int in, unsigned seed) {
    core::Layer l;
    l.info.name = name;
    l.info.kind = "Linear";
    l.info.shape = {out, in};
    l.info.weightPath = "/" + name + ".weight";
    l.weight.shape = {out, in};
    auto v = test::randomValues(size_t(out * in), 1.0, seed);
    for (int o = 0; o < out; ++o)
        for (int i = 0; i < in; ++i) v[size_t(o * in + i)] *= float(1 + o);
    l.weight.values.assign(v.begin(), v.end());
    return l;
}

}  // namespace

TEST(StateHistory, ShortRunsKeepEverySweep) {
    const core::Summary s = countingHistory(100, 2048);
    ASSERT_EQ(s.pairs[0].states.size(), 101u);
    ASSERT_EQ(s.stateSweeps.size(), 101u);
    for (size_t i = 0; i < s.stateSweeps.size(); ++i) EXPECT_EQ(s.stateSweeps[i], int(i));
    EXPECT_EQ(s.stateIndex(57), 57u);
}

TEST(StateHistory, LongRunsKeepFirstLastAndAnEvenlyThinnedSetExactly) {
    for (int sweeps : {2048, 2049, 5000, 20000, 20001}) {
        const core::Summary s = countingHistory(sweeps, 2048);
        const auto& states = s.pairs[0].states;
        ASSERT_LE(states.size(), 2048u) << sweeps;
        ASSERT_GE(states.size(), 1024u) << sweeps;
        ASSERT_EQ(states.size(), s.stateSweeps.size());
        EXPECT_EQ(s.stateSweeps.front(), 0);
        EXPECT_EQ(s.stateSweeps.back(), sweeps);
        for (size_t i = 0; i < states.size(); ++i) {  // each kept state is the one recorded
            EXPECT_EQ(states[i].out[0], float(s.stateSweeps[i]));
            EXPECT_EQ(states[i].in[0], float(-s.stateSweeps[i]));
        }
        for (size_t i = 1; i + 1 < states.size(); ++i)  // evenly spaced in between
            EXPECT_EQ(s.stateSweeps[i], int(i) * s.stateStride) << sweeps;
        // A sweep maps to the last recorded state at or before it.
        const int between = s.stateSweeps[3] + 1;
        EXPECT_EQ(s.stateIndex(between), s.stateStride > 1 ? 3u : 4u);
        EXPECT_EQ(s.stateIndex(sweeps), states.size() - 1);
        EXPECT_EQ(s.stateSweep(states.size() - 1), sweeps);
    }
}

TEST(StateHistory, ARunOfTwentyThousandSweepsStaysBoundedAndTheLiveHistoryMatches) {
    auto model = std::make_shared<core::Model>();
    for (auto l : {tinyLinear("a", 4, 3, 1), tinyLinear("b", 5, 4, 2), tinyLinear("c", 2, 5, 3)}) {
        model->info.layers.push_back(l.info);
        model->layers.push_back(std::move(l));
    }
    model->info.indexLayers();
    core::RunRequest request;
    request.model = model;
    request.plan.pairs = {{"a", "b"}, {"b", "c"}};
    request.options.threshold = 1e-45;  // the smallest allowed: runs to the limit
    request.options.maxSweeps = 20000;
    request.options.threads = 1;

    core::Summary live;
    std::vector<core::SweepEvent> events;
    core::Feedback feedback;
    feedback.onSweep = [&](const core::SweepEvent& e) {
        core::appendSweep(live, e);
        events.push_back(e);
    };
    const core::RunOutcome out = core::runEqualization(request, feedback);
    ASSERT_EQ(out.ending, core::Ending::SweepLimit);
    const core::Summary& s = out.summary;
    EXPECT_EQ(s.deltas.size(), 20000u);  // the deltas stay complete
    EXPECT_EQ(live.deltas, s.deltas);
    EXPECT_EQ(live.stateSweeps, s.stateSweeps);
    ASSERT_EQ(events.size(), 20001u);
    ASSERT_EQ(s.stateSweeps.front(), 0);
    ASSERT_EQ(s.stateSweeps.back(), 20000);
    for (size_t p = 0; p < s.pairs.size(); ++p) {
        const auto& states = s.pairs[p].states;
        ASSERT_LE(states.size(), core::kMaxRecordedStates);
        ASSERT_LE(states.capacity(), 2 * core::kMaxRecordedStates);  // no hidden growth
        ASSERT_EQ(states.size(), s.stateSweeps.size());
        ASSERT_EQ(live.pairs[p].states.size(), states.size());
        for (size_t i = 0; i < states.size(); ++i) {  // exact, in the engine and the live view
            const auto& e = events[size_t(s.stateSweeps[i])].pairs[p];
            ASSERT_EQ(states[i].out, e.outRange) << i;
            ASSERT_EQ(states[i].in, e.inRange) << i;
            ASSERT_EQ(live.pairs[p].states[i].out, e.outRange) << i;
        }
    }
}
