#include "cle/core/equalizer.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "cle/core/error.h"
#include "engine/channel_kernel.h"

namespace cle::core {

namespace {

// One layer taking part in the run: its working copy, how its channel axes lie, and min/max
// statistics that always describe its current values (every scaling pass refreshes them).
struct WorkLayer {
    Layer layer;
    int outAxis = 0;
    int inAxis = 1;
    kernel::AxisView view;
    kernel::Stats stats;
    float norm = 0;  // change norm over the last pair that named this layer in the current sweep
    // Input-channel factors not yet applied: the next pair scales this layer's outputs, and both
    // multiplications then happen in one pass (stats.in is stale meanwhile).
    std::vector<float> pendingIn;
};

struct WorkPair {
    size_t first = 0;
    size_t second = 0;
    std::vector<double> scale;  // cumulative factor per channel
    std::set<int> dead;
    std::set<int> constantInputs;
    std::vector<float> biasBefore;  // the first layer's bias before the run (empty: none)
};

struct WorkRegion {
    std::vector<size_t> sources, sinks;  // layer indices
    const Region* region = nullptr;
    std::vector<double> scale;  // cumulative factor per region channel
    std::set<int> dead;
    std::set<int> constantInputs;
};

std::vector<float> ranges(const std::vector<float>& lo, const std::vector<float>& hi) {
    std::vector<float> r(lo.size());
    for (size_t c = 0; c < r.size(); ++c) r[c] = hi[c] - lo[c];
    return r;
}

// Called once the fast check has found a non-finite weight, or for the (small) bias.
void checkFinite(const Layer& l) {
    auto bad = [](const std::vector<float>& v) {
        return std::find_if(v.begin(), v.end(), [](float x) { return !std::isfinite(x); }) -
               v.begin();
    };
    auto i = bad(l.weight.values);
    if (size_t(i) < l.weight.values.size())
        throw inputError("layer '" + l.info.name + "' has a non-finite weight (" +
                         std::to_string(l.weight.values[size_t(i)]) + " at flat index " +
                         std::to_string(i) + ")");
    if (l.bias && size_t(bad(l.bias->values)) < l.bias->values.size())
        throw inputError("layer '" + l.info.name + "' has a non-finite bias");
}

void checkRegion(const ModelInfo& info, const Region& r);

class Run {
public:
    /// Layers are copied from `model`, or moved out of `owned` (the same model) when given.
    Run(const Model& model, Model* owned, const std::vector<LayerPair>& pairs,
        const std::vector<Region>& regions, int threads)
        : threads_(threads > 0 ? threads : kernel::defaultThreads()) {
        if (pairs.empty() && regions.empty()) throw usageError("no layer pairs to equalize");
        for (const auto& [a, b] : pairs)  // all checks before any layer is taken
            if (auto problem = pairProblem(model.info, a, b)) throw inputError(*problem);
        for (const auto& r : regions) checkRegion(model.info, r);
        std::map<std::string, size_t> index;
        auto layerIndex = [&](const std::string& name) {
            auto it = index.find(name);
            if (it != index.end()) return it->second;
            const LayerInfo& info = *model.info.find(name);
            WorkLayer w;
            if (owned)
                w.layer = std::move(*owned->find(name));
            else
                w.layer = *model.find(name);
            w.outAxis = info.outAxis();
            w.inAxis = info.inAxis();
            layers_.push_back(std::move(w));
            index[name] = layers_.size() - 1;
            return layers_.size() - 1;
        };
        std::map<std::string, std::string> inAxisSetBy;  // second layer -> the pair's first
        for (const auto& [a, b] : pairs) {
            const LayerInfo& first = *model.info.find(a);
            const LayerInfo& second = *model.info.find(b);
            WorkPair p;
            p.first = layerIndex(a);
            p.second = layerIndex(b);
            // One in-axis per layer: a layer cannot act depthwise after one layer and as an
            // ordinary convolution after another.
            const int axis = pairInAxis(first, second);
            auto [by, fresh] = inAxisSetBy.emplace(b, a);
            if (!fresh && layers_[p.second].inAxis != axis)
                throw inputError("layer '" + b +
                                 "' would act depthwise in one pair and as an "
                                 "ordinary convolution in the other ('" +
                                 by->second + "," + b + "' and '" + a + "," + b +
                                 "'); equalize them in separate runs");
            layers_[p.second].inAxis = axis;
            p.scale.assign(size_t(first.outChannels()), 1.0);
            if (const auto& bias = layers_[p.first].layer.bias) p.biasBefore = bias->values;
            pairs_.push_back(std::move(p));
        }
        for (const auto& r : regions) {
            WorkRegion g;
            g.region = &r;
            for (const auto& n : r.sources) g.sources.push_back(layerIndex(n));
            for (const auto& n : r.sinks) g.sinks.push_back(layerIndex(n));
            for (size_t sink : g.sinks)
                if (layers_[sink].inAxis != layers_[sink].layer.info.inAxis())
                    throw inputError("layer '" + layers_[sink].layer.info.name +
                                     "' acts "
                                     "depthwise in a pair, so it cannot end a region");
            g.scale.assign(size_t(r.channels), 1.0);
            regions_.push_back(std::move(g));
        }
        for (auto& w : layers_) {
            w.view = kernel::makeView(w.layer.weight.shape, w.outAxis, w.inAxis);
            w.stats = kernel::measure(w.layer.weight.values.data(), w.view, threads_);
            if (!w.stats.finite || w.layer.bias) checkFinite(w.layer);
        }
        for (const auto& p : pairs_) {
            PairHistory h;
            h.first = layers_[p.first].layer.info.name;
            h.second = layers_[p.second].layer.info.name;
            summary_.pairs.push_back(std::move(h));
        }
        for (const auto& r : regions) summary_.regions.push_back({r, {}, {}, {}, {}});
        recordStates();
    }

    EqualizeResult run(const EqualizeOptions& options, const ProgressCallback& progress) {
        summary_.threshold = options.threshold;
        const float threshold = static_cast<float>(options.threshold);
        Progress info;
        info.pairCount = int(pairs_.size() + regions_.size());
        info.summary = &summary_;
        while (summary_.sweeps < options.maxSweeps) {
            info.sweep = ++summary_.sweeps;
            info.sweepDone = false;
            for (size_t i = 0; i < pairs_.size(); ++i) {
                applyPair(pairs_[i], i + 1 < pairs_.size() ? &pairs_[i + 1] : nullptr);
                info.pairIndex = int(i + 1);
                if (progress && !progress(info)) return cancelled();
            }
            for (auto& g : regions_) {
                applyRegion(g);
                ++info.pairIndex;
                if (progress && !progress(info)) return cancelled();
            }
            float delta = 0;  // float32 sum of float32 norms, as the reference compares
            for (const auto& w : layers_) delta += w.norm;
            summary_.deltas.push_back(delta);
            recordStates();
            info.sweepDone = true;
            info.delta = delta;
            if (progress && !progress(info)) return cancelled();
            if (delta < threshold) {
                summary_.converged = true;
                break;
            }
        }
        EqualizeResult result;
        finishPairs();
        result.summary = std::move(summary_);
        for (auto& w : layers_) result.layers.push_back(std::move(w.layer));
        return result;
    }

private:
    void applyPair(WorkPair& p, const WorkPair* next) {
        WorkLayer& a = layers_[p.first];
        WorkLayer& b = layers_[p.second];
        if (!a.pendingIn.empty())  // a's output ranges as they are after its deferred scaling
            a.stats = kernel::measureScaledOutputs(a.layer.weight.values.data(), a.view,
                                                   a.pendingIn.data(), threads_, &a.stats);
        const size_t n = p.scale.size();
        std::vector<float> s(n), inv(n);
        for (size_t c = 0; c < n; ++c) {
            float r1 = a.stats.outMax[c] - a.stats.outMin[c];
            float r2 = b.stats.inMax[c] - b.stats.inMin[c];
            s[c] = std::sqrt(r1 / (r2 + 1e-9f));
            inv[c] = 1.0f / s[c];
            // A dead channel (factor 0, or one whose reciprocal overflows) stays unscaled; the
            // reference would turn it into inf and NaN. A constant input channel (r2 == 0) stays
            // unscaled too: the reference's sqrt(r1 / 1e-9) would be applied again every sweep
            // (a constant stays constant) until the channel dwarfs the rest of the layer. Either
            // way the channel's weights never change, so it adds nothing to the change norm and
            // every other channel gets the numbers it would get without it.
            const bool dead = s[c] == 0.f || !std::isfinite(inv[c]) || !std::isfinite(s[c]);
            const bool constant = r2 == 0.f;
            if (dead) p.dead.insert(int(c));
            if (constant) p.constantInputs.insert(int(c));
            if (dead || constant) s[c] = inv[c] = 1.f;
            p.scale[c] *= double(s[c]);
        }
        float* wa = a.layer.weight.values.data();
        double changeA = a.pendingIn.empty()
                             ? kernel::scale(wa, a.view, true, inv.data(), a.stats, threads_)
                             : kernel::scaleInThenOut(wa, a.view, a.pendingIn.data(), inv.data(),
                                                      a.stats, threads_);
        a.pendingIn.clear();
        a.norm = float(std::sqrt(changeA));
        if (a.layer.bias)
            for (size_t c = 0; c < n; ++c) a.layer.bias->values[c] *= inv[c];
        // When the next pair scales b's outputs, b's inputs are scaled in that same pass; b's
        // change is measured over that next pair anyway, as the reference does.
        if (next && next->first == p.second && next->second != p.second) {
            b.pendingIn = std::move(s);
            return;
        }
        b.norm = float(std::sqrt(kernel::scale(b.layer.weight.values.data(), b.view, false,
                                               s.data(), b.stats, threads_)));
    }

    // The largest source output range and sink input range of every region channel.
    RangeState regionRanges(const WorkRegion& g) const {
        const Region& r = *g.region;
        RangeState st{std::vector<float>(size_t(r.channels), 0.f),
                      std::vector<float>(size_t(r.channels), 0.f)};
        for (size_t i = 0; i < g.sources.size(); ++i) {
            const auto& s = layers_[g.sources[i]].stats;
            for (size_t c = 0; c < r.sourceChannels[i].size(); ++c) {
                float& m = st.out[size_t(r.sourceChannels[i][c])];
                m = std::max(m, s.outMax[c] - s.outMin[c]);
            }
        }
        for (size_t j = 0; j < g.sinks.size(); ++j) {
            const auto& s = layers_[g.sinks[j]].stats;
            for (size_t k = 0; k < r.sinkChannels[j].size(); ++k) {
                float& m = st.in[size_t(r.sinkChannels[j][k])];
                m = std::max(m, s.inMax[k] - s.inMin[k]);
            }
        }
        return st;
    }

    void applyRegion(WorkRegion& g);

    void recordStates() {
        for (size_t i = 0; i < pairs_.size(); ++i) {
            const auto& a = layers_[pairs_[i].first].stats;
            const auto& b = layers_[pairs_[i].second].stats;
            summary_.pairs[i].states.push_back(
                {ranges(a.outMin, a.outMax), ranges(b.inMin, b.inMax)});
            // The scales so far travel with each sweep: a live view shows them during the run.
            auto& h = summary_.pairs[i];
            h.scale.assign(pairs_[i].scale.begin(), pairs_[i].scale.end());
            h.deadChannels.assign(pairs_[i].dead.begin(), pairs_[i].dead.end());
            h.constantInputChannels.assign(pairs_[i].constantInputs.begin(),
                                           pairs_[i].constantInputs.end());
        }
        for (size_t i = 0; i < regions_.size(); ++i) {
            auto& h = summary_.regions[i];
            h.states.push_back(regionRanges(regions_[i]));
            h.scale.assign(regions_[i].scale.begin(), regions_[i].scale.end());
            h.deadChannels.assign(regions_[i].dead.begin(), regions_[i].dead.end());
            h.constantInputChannels.assign(regions_[i].constantInputs.begin(),
                                           regions_[i].constantInputs.end());
        }
        recordStateSweep(summary_, summary_.sweeps);  // bounded for long runs
    }

    void finishPairs() {
        for (size_t i = 0; i < pairs_.size(); ++i) {
            auto& h = summary_.pairs[i];
            h.scale.assign(pairs_[i].scale.begin(), pairs_[i].scale.end());
            h.deadChannels.assign(pairs_[i].dead.begin(), pairs_[i].dead.end());
            h.constantInputChannels.assign(pairs_[i].constantInputs.begin(),
                                           pairs_[i].constantInputs.end());
            h.amplifiedBias = amplifiedBias(pairs_[i]);
        }
        for (size_t i = 0; i < regions_.size(); ++i) {
            auto& h = summary_.regions[i];
            h.scale.assign(regions_[i].scale.begin(), regions_[i].scale.end());
            h.deadChannels.assign(regions_[i].dead.begin(), regions_[i].dead.end());
            h.constantInputChannels.assign(regions_[i].constantInputs.begin(),
                                           regions_[i].constantInputs.end());
        }
    }

    // Channels whose non-zero bias grew by more than kBiasAmplificationLimit.
    std::vector<AmplifiedChannel> amplifiedBias(const WorkPair& p) const {
        std::vector<AmplifiedChannel> found;
        const auto& bias = layers_[p.first].layer.bias;
        if (p.biasBefore.empty() || !bias) return found;
        for (size_t c = 0; c < p.scale.size() && c < p.biasBefore.size(); ++c) {
            const double amplification = 1.0 / p.scale[c];
            if (p.biasBefore[c] != 0.f && amplification > kBiasAmplificationLimit)
                found.push_back({int(c), amplification, p.biasBefore[c], bias->values[c]});
        }
        return found;
    }

    EqualizeResult cancelled() {
        EqualizeResult result;
        finishPairs();
        summary_.cancelled = true;
        result.summary = std::move(summary_);
        return result;
    }

    std::vector<WorkLayer> layers_;
    std::vector<WorkPair> pairs_;
    std::vector<WorkRegion> regions_;
    Summary summary_;
    int threads_;
};

// Factors as for a pair, per region channel; then every source's output channels are divided and
// every sink's input channels multiplied. A layer that is both (inside a dense block) has both
// axes scaled, and its change is measured over the two.
void Run::applyRegion(WorkRegion& g) {
    const Region& r = *g.region;
    RangeState st = regionRanges(g);
    const size_t n = size_t(r.channels);
    std::vector<float> s(n), inv(n);
    for (size_t c = 0; c < n; ++c) {
        s[c] = std::sqrt(st.out[c] / (st.in[c] + 1e-9f));
        inv[c] = 1.0f / s[c];
        const bool dead = s[c] == 0.f || !std::isfinite(inv[c]) || !std::isfinite(s[c]);
        const bool constant = st.in[c] == 0.f;
        if (dead) g.dead.insert(int(c));
        if (constant) g.constantInputs.insert(int(c));
        if (dead || constant) s[c] = inv[c] = 1.f;
        g.scale[c] *= double(s[c]);
    }
    std::map<size_t, std::vector<float>> outFactor, inFactor;
    for (size_t i = 0; i < g.sources.size(); ++i) {
        auto& f = outFactor[g.sources[i]];
        for (int ch : r.sourceChannels[i]) f.push_back(inv[size_t(ch)]);
    }
    for (size_t j = 0; j < g.sinks.size(); ++j) {
        auto& f = inFactor[g.sinks[j]];
        for (int ch : r.sinkChannels[j]) f.push_back(s[size_t(ch)]);
    }
    std::set<size_t> touched;
    for (const auto& [l, f] : outFactor) touched.insert(l);
    for (const auto& [l, f] : inFactor) touched.insert(l);
    for (size_t l : touched) {
        WorkLayer& w = layers_[l];
        float* data = w.layer.weight.values.data();
        auto out = outFactor.find(l);
        auto in = inFactor.find(l);
        if (out != outFactor.end() && in != inFactor.end()) {
            std::vector<float> before = w.layer.weight.values;
            kernel::scale(data, w.view, false, in->second.data(), w.stats, threads_);
            kernel::scale(data, w.view, true, out->second.data(), w.stats, threads_);
            double sq = 0;
            for (size_t k = 0; k < before.size(); ++k) {
                const float d = data[k] - before[k];
                sq += double(d) * double(d);
            }
            w.norm = float(std::sqrt(sq));
        } else if (out != outFactor.end()) {
            w.norm = float(std::sqrt(
                kernel::scale(data, w.view, true, out->second.data(), w.stats, threads_)));
        } else {
            w.norm = float(std::sqrt(
                kernel::scale(data, w.view, false, in->second.data(), w.stats, threads_)));
        }
        if (out != outFactor.end() && w.layer.bias)
            for (size_t c = 0; c < out->second.size(); ++c)
                w.layer.bias->values[c] *= out->second[c];
    }
}

// A region's layers and channel maps must fit the model.
void checkRegion(const ModelInfo& info, const Region& r) {
    auto layer = [&](const std::string& name) -> const LayerInfo& {
        const LayerInfo* l = info.find(name);
        if (!l)
            throw inputError("unknown layer '" + name +
                             "' (see 'cle inspect' for the layer names)");
        if (!l->supported)
            throw inputError("layer '" + name + "' cannot be equalized: " + l->unsupportedReason);
        return *l;
    };
    if (r.sources.empty() || r.sinks.empty() || r.sourceChannels.size() != r.sources.size() ||
        r.sinkChannels.size() != r.sinks.size())
        throw usageError("a region needs sources and sinks, each with its channel map");
    auto check = [&](const std::vector<int>& map, std::int64_t count, const std::string& name) {
        if (std::int64_t(map.size()) != count)
            throw inputError("channel mismatch: '" + name + "' has " + std::to_string(count) +
                             " channels where its region maps " + std::to_string(map.size()));
        for (int ch : map)
            if (ch < 0 || ch >= r.channels) throw usageError("region channel out of range");
    };
    for (size_t i = 0; i < r.sources.size(); ++i)
        check(r.sourceChannels[i], layer(r.sources[i]).outChannels(), r.sources[i]);
    for (size_t j = 0; j < r.sinks.size(); ++j) {
        // A depthwise sink's input channels are its one channel axis.
        check(r.sinkChannels[j], layer(r.sinks[j]).inChannels(), r.sinks[j]);
    }
}

void checkOptions(const EqualizeOptions& options) {
    // The reference compares in float32: a threshold that rounds to 0 there can never be met.
    if (!(static_cast<float>(options.threshold) > 0) || !std::isfinite(options.threshold))
        throw usageError("the threshold must be a positive number (at least 1e-45, float32)");
    if (options.maxSweeps < 1) throw usageError("the maximum number of sweeps must be at least 1");
}

}  // namespace

EqualizeResult equalize(const Model& model, const std::vector<LayerPair>& pairs,
                        const EqualizeOptions& options, const ProgressCallback& progress) {
    return equalize(model, pairs, {}, options, progress);
}

EqualizeResult equalize(Model&& model, const std::vector<LayerPair>& pairs,
                        const EqualizeOptions& options, const ProgressCallback& progress) {
    return equalize(std::move(model), pairs, {}, options, progress);
}

EqualizeResult equalize(const Model& model, const std::vector<LayerPair>& pairs,
                        const std::vector<Region>& regions, const EqualizeOptions& options,
                        const ProgressCallback& progress) {
    checkOptions(options);
    Run run(model, nullptr, pairs, regions, options.threads);
    return run.run(options, progress);
}

EqualizeResult equalize(Model&& model, const std::vector<LayerPair>& pairs,
                        const std::vector<Region>& regions, const EqualizeOptions& options,
                        const ProgressCallback& progress) {
    checkOptions(options);
    Run run(model, &model, pairs, regions, options.threads);
    return run.run(options, progress);
}

}  // namespace cle::core
