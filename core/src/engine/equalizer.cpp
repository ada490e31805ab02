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

class Run {
public:
    /// Layers are copied from `model`, or moved out of `owned` (the same model) when given.
    Run(const Model& model, Model* owned, const std::vector<LayerPair>& pairs, int threads)
        : threads_(threads > 0 ? threads : kernel::defaultThreads()) {
        if (pairs.empty()) throw usageError("no layer pairs to equalize");
        for (const auto& [a, b] : pairs)  // all checks before any layer is taken
            if (auto problem = pairProblem(model.info, a, b)) throw inputError(*problem);
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
                throw inputError("layer '" + b + "' would act depthwise in one pair and as an "
                                 "ordinary convolution in the other ('" + by->second + "," + b +
                                 "' and '" + a + "," + b + "'); equalize them in separate runs");
            layers_[p.second].inAxis = axis;
            p.scale.assign(size_t(first.outChannels()), 1.0);
            if (const auto& bias = layers_[p.first].layer.bias) p.biasBefore = bias->values;
            pairs_.push_back(std::move(p));
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
        recordStates();
    }

    EqualizeResult run(const EqualizeOptions& options, const ProgressCallback& progress) {
        summary_.threshold = options.threshold;
        const float threshold = static_cast<float>(options.threshold);
        Progress info;
        info.pairCount = int(pairs_.size());
        info.summary = &summary_;
        while (summary_.sweeps < options.maxSweeps) {
            info.sweep = ++summary_.sweeps;
            info.sweepDone = false;
            for (size_t i = 0; i < pairs_.size(); ++i) {
                applyPair(pairs_[i], i + 1 < pairs_.size() ? &pairs_[i + 1] : nullptr);
                info.pairIndex = int(i + 1);
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
            a.stats = kernel::measureScaled(a.layer.weight.values.data(), a.view,
                                            a.pendingIn.data(), threads_);
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
        b.norm = float(std::sqrt(
            kernel::scale(b.layer.weight.values.data(), b.view, false, s.data(), b.stats, threads_)));
    }

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
    Summary summary_;
    int threads_;
};

void checkOptions(const EqualizeOptions& options) {
    // The reference compares in float32: a threshold that rounds to 0 there can never be met.
    if (!(static_cast<float>(options.threshold) > 0) || !std::isfinite(options.threshold))
        throw usageError("the threshold must be a positive number (at least 1e-45, float32)");
    if (options.maxSweeps < 1) throw usageError("the maximum number of sweeps must be at least 1");
}

}  // namespace

EqualizeResult equalize(const Model& model, const std::vector<LayerPair>& pairs,
                        const EqualizeOptions& options, const ProgressCallback& progress) {
    checkOptions(options);
    Run run(model, nullptr, pairs, options.threads);
    return run.run(options, progress);
}

EqualizeResult equalize(Model&& model, const std::vector<LayerPair>& pairs,
                        const EqualizeOptions& options, const ProgressCallback& progress) {
    checkOptions(options);
    Run run(model, &model, pairs, options.threads);
    return run.run(options, progress);
}

}  // namespace cle::core
