#pragma once
// What a running equalization sends to the GUI thread: only what is new since the last update,
// so that neither thread copies the whole history on every sweep.
#include <vector>

#include "cle/core/equalizer.h"

namespace cle::ui {

struct PairUpdate {
    std::string first;
    std::string second;
    std::vector<core::RangeState> newStates;  ///< states recorded since the previous update
    std::vector<float> scale;                 ///< cumulative factors so far
    std::vector<int> deadChannels;
    std::vector<int> constantInputChannels;
};

struct RunUpdate {
    int sweep = 0;
    int pairIndex = 0;
    int pairCount = 0;
    float delta = 0;  ///< the last finished sweep's delta (0 before the first)
    std::vector<float> newDeltas;
    std::vector<PairUpdate> pairs;
};

/// Builds updates from the core's history, remembering what was already sent.
class UpdateBuilder {
public:
    RunUpdate build(const core::Progress& progress);

private:
    size_t sentDeltas_ = 0;
    std::vector<size_t> sentStates_;
};

/// Appends `update` to `summary` (the GUI thread's copy of the history).
void mergeUpdate(core::Summary& summary, RunUpdate&& update);

}  // namespace cle::ui
