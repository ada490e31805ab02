#include "cle/core/bias_absorption.h"

#include <algorithm>
#include <cmath>

#include "cle/core/error.h"

namespace cle::core {

namespace {

Layer* findLayer(std::vector<Layer>& layers, const std::string& name) {
    auto it = std::find_if(layers.begin(), layers.end(),
                           [&](const Layer& l) { return l.info.name == name; });
    return it == layers.end() ? nullptr : &*it;
}

std::vector<float> bnVector(const Model& model, const std::string& path, std::int64_t n,
                            float fallback) {
    if (path.empty()) return std::vector<float>(size_t(n), fallback);
    const ModelInfo& info = model.info;
    const Tensor* loaded = model.parameter(path);  // carried by the model when it was loaded
    Tensor t = loaded ? *loaded : readDataset(info.path, path);
    if (t.size() != n)
        throw inputError(info.path + ":" + path + " has " + std::to_string(t.size()) +
                         " values where " + std::to_string(n) + " channels were expected");
    return t.values;
}

// b2[o] += sum over W2[o, i, spatial] * c[i], with the input axis `inAxis` (the output axis of a
// depthwise kernel, whose single channel axis is both).
void addToSecondBias(Layer& second, int inAxis, const std::vector<float>& c) {
    const auto& shape = second.weight.shape;
    const int outAxis = second.info.outAxis();
    std::int64_t inStride = 1, outStride = 1;
    for (int k = int(shape.size()) - 1; k > inAxis; --k) inStride *= shape[size_t(k)];
    for (int k = int(shape.size()) - 1; k > outAxis; --k) outStride *= shape[size_t(k)];
    const std::int64_t inCount = shape[size_t(inAxis)], outCount = shape[size_t(outAxis)];
    std::vector<double> add(size_t(outCount), 0.0);
    const auto& w = second.weight.values;
    for (size_t i = 0; i < w.size(); ++i) {
        const std::int64_t in = (std::int64_t(i) / inStride) % inCount;
        const std::int64_t out = (std::int64_t(i) / outStride) % outCount;
        add[size_t(out)] += double(w[i]) * double(c[size_t(in)]);
    }
    for (size_t o = 0; o < add.size(); ++o)
        second.bias->values[o] = float(double(second.bias->values[o]) + add[o]);
}

}  // namespace

std::vector<AbsorbedBias> absorbHighBias(const Model& model, const RunPlan& plan,
                                         const Summary& summary, std::vector<Layer>& layers) {
    const ModelInfo& info = model.info;
    std::vector<AbsorbedBias> out;
    for (const auto& pairNames : plan.absorbable) {
        // Named references, not structured bindings: lambdas capture them under clang too.
        const std::string& a = pairNames.first;
        const std::string& b = pairNames.second;
        AbsorbedBias r{a, b, {}, 0, 0, ""};
        auto bn = std::find_if(plan.batchNorms.begin(), plan.batchNorms.end(),
                               [&](const BatchNormRef& x) { return x.after == a; });
        auto pair =
            std::find_if(summary.pairs.begin(), summary.pairs.end(),
                         [&](const PairHistory& p) { return p.first == a && p.second == b; });
        Layer* first = findLayer(layers, a);
        Layer* second = findLayer(layers, b);
        const LayerInfo* secondInfo = info.find(b);
        const bool secondBias =
            secondInfo &&
            (secondInfo->hasBias() || std::any_of(plan.batchNorms.begin(), plan.batchNorms.end(),
                                                  [&](const BatchNormRef& x) {
                                                      return x.after == b && !x.betaPath.empty();
                                                  }));
        if (bn == plan.batchNorms.end() || pair == summary.pairs.end() || !first || !second ||
            !first->bias) {
            r.skipped = "its batch norm is not folded in this run";
        } else if (!secondBias) {
            r.skipped =
                "'" + b + "' has no bias (nor a batch norm after it) to take the absorbed part";
        }
        if (!r.skipped.empty()) {
            out.push_back(std::move(r));
            continue;
        }
        const std::int64_t n = first->info.outChannels();
        auto gamma = bnVector(model, bn->gammaPath, n, 1.f);
        auto beta = bnVector(model, bn->betaPath, n, 0.f);
        r.absorbed.assign(size_t(n), 0.f);
        for (size_t c = 0; c < size_t(n); ++c) {
            const double s = c < pair->scale.size() ? double(pair->scale[c]) : 1.0;
            const double value = (double(beta[c]) - 3.0 * std::fabs(double(gamma[c]))) / s;
            if (!(value > 0) || !std::isfinite(value)) continue;
            r.absorbed[c] = float(value);
            first->bias->values[c] -= r.absorbed[c];
            r.channels += 1;
            r.largest = std::max(r.largest, value);
        }
        if (!second->bias)
            second->bias = Tensor{{second->info.outChannels()},
                                  std::vector<float>(size_t(second->info.outChannels()), 0.f)};
        addToSecondBias(*second, pairInAxis(first->info, second->info), r.absorbed);
        out.push_back(std::move(r));
    }
    return out;
}

}  // namespace cle::core
