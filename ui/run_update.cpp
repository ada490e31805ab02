#include "ui/run_update.h"

namespace cle::ui {

RunUpdate UpdateBuilder::build(const core::Progress& progress)
{
    RunUpdate u;
    u.sweep = progress.sweep;
    u.pairIndex = progress.pairIndex;
    u.pairCount = progress.pairCount;
    const core::Summary* s = progress.summary;
    if (!s) return u;
    if (!s->deltas.empty()) u.delta = s->deltas.back();
    if (sentDeltas_ < s->deltas.size()) {
        u.newDeltas.assign(s->deltas.begin() + static_cast<long>(sentDeltas_), s->deltas.end());
        sentDeltas_ = s->deltas.size();
    }
    sentStates_.resize(s->pairs.size(), 0);
    u.pairs.resize(s->pairs.size());
    for (size_t i = 0; i < s->pairs.size(); ++i) {
        const auto& h = s->pairs[i];
        auto& p = u.pairs[i];
        p.first = h.first;
        p.second = h.second;
        if (sentStates_[i] < h.states.size()) {
            p.newStates.assign(h.states.begin() + static_cast<long>(sentStates_[i]),
                               h.states.end());
            sentStates_[i] = h.states.size();
        }
        p.scale = h.scale;
        p.deadChannels = h.deadChannels;
        p.constantInputChannels = h.constantInputChannels;
    }
    return u;
}

void mergeUpdate(core::Summary& summary, RunUpdate&& update)
{
    summary.sweeps = static_cast<int>(summary.deltas.size() + update.newDeltas.size());
    summary.deltas.insert(summary.deltas.end(), update.newDeltas.begin(), update.newDeltas.end());
    if (summary.pairs.size() < update.pairs.size()) summary.pairs.resize(update.pairs.size());
    for (size_t i = 0; i < update.pairs.size(); ++i) {
        auto& h = summary.pairs[i];
        auto& p = update.pairs[i];
        h.first = std::move(p.first);
        h.second = std::move(p.second);
        for (auto& st : p.newStates) h.states.push_back(std::move(st));
        h.scale = std::move(p.scale);
        h.deadChannels = std::move(p.deadChannels);
        h.constantInputChannels = std::move(p.constantInputChannels);
    }
}

}  // namespace cle::ui
