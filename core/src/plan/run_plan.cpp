#include "cle/core/run_plan.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "cle/core/error.h"
#include "formats/keras_config.h"
#include "formats/open_input.h"
#include "hdf5/h5.h"
#include "support/json_text.h"

namespace cle::core {

namespace {

bool hasBatchNorm(const RunPlan& plan, const std::string& name) {
    return std::any_of(plan.batchNorms.begin(), plan.batchNorms.end(),
                       [&](const BatchNormRef& b) { return b.name == name; });
}

// Why a batch norm cannot be folded into its layer in the exported file, if it cannot.
std::optional<std::string> foldProblem(const ModelInfo& info, const BatchNormRef& bn) {
    const LayerInfo* layer = info.find(bn.after);
    if (!layer) return "layer '" + bn.after + "' is not in the model";
    if (!layer->hasBias() && bn.betaPath.empty())
        return "batch norm '" + bn.name + "' has no beta and '" + bn.after +
               "' has no bias, so the folded bias cannot be stored in the file";
    if (bn.meanPath.empty() || bn.varPath.empty())
        return "batch norm '" + bn.name + "' has no moving mean or variance to fold";
    return std::nullopt;
}

// Adds a pair with what lies between; returns the reason when the pair must be left out.
std::optional<std::string> addLink(const ModelInfo& info, const Link& link, RunPlan& plan) {
    if (auto problem = pairProblem(info, link.first, link.second)) return problem;
    if (link.batchNorm) {
        if (auto problem = foldProblem(info, *link.batchNorm)) return problem;
        if (!hasBatchNorm(plan, link.batchNorm->name)) plan.batchNorms.push_back(*link.batchNorm);
    }
    for (const auto& r : link.relu6) {
        if (std::find(plan.relu6.begin(), plan.relu6.end(), r) == plan.relu6.end())
            plan.relu6.push_back(r);
        if (link.batchNorm) plan.relu6Norms.emplace(r, link.batchNorm->name);
        if (auto level = link.relu6Max.find(r); level != link.relu6Max.end())
            plan.relu6Max.emplace(r, level->second);
    }
    plan.guessed = plan.guessed || link.guessed;
    plan.pairs.emplace_back(link.first, link.second);
    if (link.reluAfterBatchNorm) plan.absorbable.emplace_back(link.first, link.second);
    return std::nullopt;
}

// Adds a region with its batch norms and ReLU6; returns the reason when it must be left out.
std::optional<std::string> addRegionLink(const ModelInfo& info, const RegionLink& link,
                                         RunPlan& plan) {
    for (const auto& bn : link.batchNorms)
        if (auto problem = foldProblem(info, bn)) return problem;
    for (const auto& bn : link.batchNorms)
        if (!hasBatchNorm(plan, bn.name)) plan.batchNorms.push_back(bn);
    for (const auto& r : link.relu6)
        if (std::find(plan.relu6.begin(), plan.relu6.end(), r) == plan.relu6.end())
            plan.relu6.push_back(r);
    plan.regions.push_back(link.region);
    return std::nullopt;
}

}  // namespace

std::vector<std::string> planLayers(const RunPlan& plan) {
    std::vector<std::string> names;
    auto add = [&](const std::string& n) {
        if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
    };
    for (const auto& [a, b] : plan.pairs) {
        add(a);
        add(b);
    }
    for (const auto& r : plan.regions) {
        for (const auto& n : r.sources) add(n);
        for (const auto& n : r.sinks) add(n);
    }
    return names;
}

void addLayerBatchNorms(const ModelInfo& info, const Topology& topology, RunPlan& plan) {
    std::vector<std::string> measured;
    for (const auto& pair : plan.pairs) measured.push_back(pair.second);
    for (const auto& r : plan.regions)
        measured.insert(measured.end(), r.sinks.begin(), r.sinks.end());
    for (const auto& name : measured) {
        const BatchNormRef* bn = topology.batchNormAfter(name);
        if (!bn || hasBatchNorm(plan, bn->name)) continue;
        if (auto problem = foldProblem(info, *bn)) {
            std::string note = "'" + name + "' is measured without its batch norm: " + *problem;
            if (std::find(plan.notes.begin(), plan.notes.end(), note) == plan.notes.end())
                plan.notes.push_back(note);
        } else
            plan.batchNorms.push_back(*bn);
    }
}

void planRegions(const ModelInfo& info, const Topology& topology,
                 const std::vector<RegionNames>& regions, bool allowRelu6, RunPlan& plan) {
    for (const auto& r : regions) {
        std::string reason;
        auto link = topology.region(r.sources, r.sinks, allowRelu6, &reason);
        std::string what = "cannot equalize the region of sources " +
                           nlohmann::json(r.sources).dump() + " and sinks " +
                           nlohmann::json(r.sinks).dump() + ": ";
        if (!link) throw inputError(what + reason);
        if (auto why = addRegionLink(info, *link, plan)) throw inputError(what + *why);
    }
    addLayerBatchNorms(info, topology, plan);
}

RunPlan planPairs(const ModelInfo& info, const Topology& topology,
                  const std::vector<LayerPair>& pairs, bool allowRelu6) {
    RunPlan plan;
    for (const auto& [a, b] : pairs) {
        // Unknown names first; then what the graph says lies between (a Concatenate explains a
        // channel mismatch); then the layers themselves.
        if (!info.find(a) || !info.find(b)) throw inputError(*pairProblem(info, a, b));
        std::string reason;
        auto link = topology.link(a, b, allowRelu6, &reason);
        if (!link) throw inputError("cannot pair '" + a + "' with '" + b + "': " + reason);
        if (auto why = addLink(info, *link, plan))
            throw inputError("cannot pair '" + a + "' with '" + b + "': " + *why);
    }
    addLayerBatchNorms(info, topology, plan);
    return plan;
}

RunPlan planSuggested(const ModelInfo& info, const Topology& topology, bool allowRelu6,
                      bool acceptGuesses) {
    RunPlan plan;
    PairPlan suggested = topology.suggest(allowRelu6);
    for (const auto& chain : suggested.suggested) {
        if (chain.guessed && !acceptGuesses)
            throw usageError("'" + info.path +
                             "' has no layer graph, so the suggested pairs are guessed from names "
                             "and shapes; check them with 'cle pairs' and pass --accept-guesses");
        for (size_t i = 0; i + 1 < chain.layers.size(); ++i) {
            std::string reason;
            auto link = topology.link(chain.layers[i], chain.layers[i + 1], allowRelu6, &reason);
            if (!link) {
                plan.skipped.push_back({{chain.layers[i], chain.layers[i + 1]}, reason});
                continue;
            }
            if (auto why = addLink(info, *link, plan))
                plan.skipped.push_back({{link->first, link->second}, *why});
        }
    }
    for (const auto& r : suggested.regions)
        if (auto why = addRegionLink(info, r, plan)) {
            std::vector<std::string> layers = r.region.sources;
            layers.insert(layers.end(), r.region.sinks.begin(), r.region.sinks.end());
            plan.skipped.push_back({layers, *why});
        }
    if (plan.pairs.empty() && plan.regions.empty()) {
        std::string why;
        for (const auto& r : plan.skipped)
            why += "; " + r.layers.front() + " -> " + r.layers.back() + ": " + r.reason;
        for (size_t i = 0; i < suggested.rejected.size() && i < 5; ++i)
            why += "; " + suggested.rejected[i].layers.front() + " -> " +
                   suggested.rejected[i].layers.back() + ": " + suggested.rejected[i].reason;
        if (suggested.rejected.size() > 5)
            why += "; and " + std::to_string(suggested.rejected.size() - 5) +
                   " more (see 'cle pairs')";
        throw inputError("no layer pairs of '" + info.path + "' can be equalized" + why);
    }
    addLayerBatchNorms(info, topology, plan);
    return plan;
}

namespace {

// A batch norm's vector: from the model when it was loaded with it, else read from its file.
std::vector<float> readVector(const Model& model, const std::string& path, std::int64_t n,
                              float fallback) {
    if (path.empty()) return std::vector<float>(size_t(n), fallback);
    const std::string& fileName = model.info.path;
    const Tensor* loaded = model.parameter(path);
    Tensor t = loaded ? *loaded : readDataset(fileName, path);
    if (t.size() != n)
        throw inputError(fileName + ":" + path + " has " + std::to_string(t.size()) +
                         " values where " + std::to_string(n) + " channels were expected");
    return t.values;
}

// Multiplies every element of channel c along `axis` by f[c].
void scaleAxis(Tensor& t, int axis, const std::vector<double>& f) {
    std::int64_t inner = 1, channels = t.shape[size_t(axis)];
    for (int i = axis + 1; i < t.rank(); ++i) inner *= t.shape[size_t(i)];
    for (size_t i = 0; i < t.values.size(); ++i)
        t.values[i] = float(t.values[i] * f[size_t((std::int64_t(i) / inner) % channels)]);
}

}  // namespace

std::vector<Relu6Cost> relu6Costs(const Model& model, const RunPlan& plan) {
    const ModelInfo& info = model.info;
    std::vector<Relu6Cost> costs;
    for (const auto& name : plan.relu6) {
        Relu6Cost c;
        c.layer = name;
        if (auto level = plan.relu6Max.find(name); level != plan.relu6Max.end())
            c.level = level->second;
        auto norm = plan.relu6Norms.find(name);
        auto bn = norm == plan.relu6Norms.end()
                      ? plan.batchNorms.end()
                      : std::find_if(plan.batchNorms.begin(), plan.batchNorms.end(),
                                     [&](const BatchNormRef& b) { return b.name == norm->second; });
        const LayerInfo* layer = bn == plan.batchNorms.end() ? nullptr : info.find(bn->after);
        if (layer) {
            c.batchNorm = bn->name;
            const std::int64_t n = layer->outChannels();
            auto gamma = readVector(model, bn->gammaPath, n, 1.f);
            auto beta = readVector(model, bn->betaPath, n, 0.f);
            for (size_t k = 0; k < gamma.size(); ++k) {
                double g = std::fabs(double(gamma[k])), b = beta[k];
                double above = g > 0 ? 0.5 * std::erfc((c.level - b) / (g * std::sqrt(2.0)))
                                     : (b > c.level ? 1.0 : 0.0);
                c.mean += above / double(gamma.size());
                if (c.worstChannel < 0 || above > c.worst) {
                    c.worst = above;
                    c.worstChannel = int(k);
                }
            }
        }
        costs.push_back(std::move(c));
    }
    return costs;
}

std::vector<Relu6Cost> relu6Costs(const ModelInfo& info, const RunPlan& plan) {
    Model model;
    model.info = info;
    return relu6Costs(model, plan);
}

void copyBatchNormVectors(const Model& from, const RunPlan& plan, Model& to) {
    for (const auto& bn : plan.batchNorms)
        for (const auto* path : {&bn.gammaPath, &bn.betaPath, &bn.meanPath, &bn.varPath})
            if (const Tensor* t = from.parameter(*path)) to.parameters.emplace(*path, *t);
}

void foldBatchNorms(Model& model, const RunPlan& plan) {
    for (const auto& bn : plan.batchNorms) {
        Layer* layer = model.find(bn.after);
        if (!layer) throw inputError("layer '" + bn.after + "' is not in the model");
        const std::int64_t n = layer->info.outChannels();
        auto gamma = readVector(model, bn.gammaPath, n, 1.f);
        auto beta = readVector(model, bn.betaPath, n, 0.f);
        auto mean = readVector(model, bn.meanPath, n, 0.f);
        auto var = readVector(model, bn.varPath, n, 1.f);
        std::vector<double> factor(static_cast<size_t>(n), 0.0);
        for (size_t c = 0; c < factor.size(); ++c) {
            if (!(var[c] + bn.epsilon > 0) || !std::isfinite(var[c] + bn.epsilon))
                throw inputError("batch norm '" + bn.name + "' of '" + model.info.path +
                                 "' cannot be folded: its variance plus epsilon (" +
                                 std::to_string(var[c]) + " + " + std::to_string(bn.epsilon) +
                                 ") is not a positive number in channel " + std::to_string(c));
            factor[c] = double(gamma[c]) / std::sqrt(double(var[c]) + bn.epsilon);
        }
        scaleAxis(layer->weight, layer->info.outAxis(), factor);
        if (!layer->bias) layer->bias = Tensor{{n}, std::vector<float>(size_t(n), 0.f)};
        for (size_t c = 0; c < factor.size(); ++c)
            layer->bias->values[c] =
                float((double(layer->bias->values[c]) - mean[c]) * factor[c] + beta[c]);
    }
}

namespace {

// Keys keep their order (nlohmann::ordered_json): only the relaxed values change.
void relaxRelu6(nlohmann::ordered_json& j, const std::vector<std::string>& names) {
    if (j.is_array()) {
        for (auto& v : j) relaxRelu6(v, names);
        return;
    }
    if (!j.is_object()) return;
    if (j.contains("class_name") && j.contains("config") && j["config"].is_object()) {
        auto& cfg = j["config"];
        // A name of another type (crafted configs) matches no layer, it does not throw.
        auto text = [](const nlohmann::ordered_json& o) {
            return o.contains("name") && o["name"].is_string() ? o["name"].get<std::string>() : "";
        };
        std::string name = cfg.contains("name") ? text(cfg) : text(j);
        if (std::find(names.begin(), names.end(), name) != names.end()) {
            if (j["class_name"] == "ReLU") cfg["max_value"] = nullptr;
            if (cfg.contains("activation") && cfg["activation"] == "relu6")
                cfg["activation"] = "relu";
        }
    }
    for (auto& [k, v] : j.items()) relaxRelu6(v, names);
}

}  // namespace

ExportExtras exportExtras(const Model& model, const RunPlan& plan,
                          const std::vector<Layer>& equalized) {
    const ModelInfo& info = model.info;
    ExportExtras extras;
    for (const auto& bn : plan.batchNorms) {
        auto it = std::find_if(equalized.begin(), equalized.end(),
                               [&](const Layer& l) { return l.info.name == bn.after; });
        if (it == equalized.end()) continue;
        const std::int64_t n = it->info.outChannels();
        auto filled = [n](float v) { return Tensor{{n}, std::vector<float>(size_t(n), v)}; };
        // The batch norm becomes y = x + beta: gamma 1, mean 0, variance 1 - eps.
        if (!bn.gammaPath.empty()) extras.datasets.emplace_back(bn.gammaPath, filled(1.f));
        extras.datasets.emplace_back(bn.meanPath, filled(0.f));
        extras.datasets.emplace_back(bn.varPath, filled(float(1.0 - bn.epsilon)));
        if (!bn.betaPath.empty())
            extras.datasets.emplace_back(bn.betaPath,
                                         it->info.hasBias() || !it->bias ? filled(0.f) : *it->bias);
    }
    if (!plan.relu6.empty() && info.format == Format::Onnx) {
        extras.relaxedNodes = plan.relu6;
    } else if (!plan.relu6.empty()) {
        // The config parsed at load; a model put together in memory reads it now.
        std::shared_ptr<const KerasConfig> config = model.config;
        if (!config && model.parametersLoaded && !model.modelConfig.empty()) {
            auto own = std::make_shared<KerasConfig>();
            own->text = model.modelConfig;
            own->json = json_text::parseOrderedModelConfig(own->text, info.path);
            config = std::move(own);
        } else if (!config && !model.parametersLoaded) {
            h5::Silence quiet;
            h5::Handle file = h5::openExisting(info.path, false);
            config = formats::readKerasConfig(file.get(), info.path);
        }
        if (config && !formats::parsed(*config).is_discarded()) {
            auto j = config->json;
            relaxRelu6(j, plan.relu6);
            extras.modelConfig = json_text::dump(j);
        }
    }
    return extras;
}

ExportExtras exportExtras(const ModelInfo& info, const RunPlan& plan,
                          const std::vector<Layer>& equalized) {
    Model model;
    model.info = info;
    return exportExtras(model, plan, equalized);
}

}  // namespace cle::core
