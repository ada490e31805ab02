#include "cle/core/topology.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "cle/core/error.h"
#include "cle/core/layer_pair.h"
#include "formats/formats.h"
#include "formats/onnx/onnx_graph.h"
#include "formats/onnx/onnx_pairs.h"
#include "formats/open_input.h"
#include "graph/keras_graph.h"
#include "graph/onnx_regions.h"
#include "graph/regions.h"
#include "graph/topology_detail.h"
#include "hdf5/h5.h"
#include "support/json_text.h"

namespace cle::core {

namespace {

std::string relu6Reason(const Link& link) {
    std::string names;
    for (size_t i = 0; i < link.relu6.size(); ++i) names += (i ? ", '" : "'") + link.relu6[i] + "'";
    return "clipping activation " + names +
           " (ReLU6 / max_value) is not positively homogeneous; pass --allow-relu6 (in the "
           "application: Allow ReLU6) to pair across it, which turns it into a plain ReLU";
}

// Links that share a layer joined into chains [a, b, c], in the order of their first layers.
std::vector<Suggestion> chains(const std::vector<const Link*>& links) {
    std::map<std::string, const Link*> byFirst;
    std::set<std::string> seconds;
    for (const Link* l : links) {
        byFirst.emplace(l->first, l);
        seconds.insert(l->second);
    }
    std::set<const Link*> used;
    std::vector<Suggestion> out;
    auto follow = [&](const Link* l) {
        Suggestion s{{l->first}, false};
        while (l && used.insert(l).second) {
            s.layers.push_back(l->second);
            s.guessed = s.guessed || l->guessed;
            auto it = byFirst.find(l->second);
            l = it == byFirst.end() ? nullptr : it->second;
        }
        out.push_back(std::move(s));
    };
    for (const Link* l : links)
        if (!seconds.count(l->first) && !used.count(l)) follow(l);
    for (const Link* l : links)  // layers reached twice or cycles: keep every link somewhere
        if (!used.count(l)) follow(l);
    return out;
}

// The graph in `model_config`, which must be readable; a plain `config` attribute is used only
// when it holds a Keras model.
std::optional<keras::Graph> kerasGraph(hid_t file, const std::string& path) {
    std::string text = keras::readRootString(file, "model_config");
    if (!text.empty()) return keras::Graph::parse(text, path);
    text = keras::readRootString(file, "config");
    if (text.empty()) return std::nullopt;
    try {
        return keras::Graph::parse(text, path);
    } catch (const Error&) {
        return std::nullopt;
    }
}

}  // namespace

Topology Topology::build(const ModelInfo& info, const TopologyOptions& options) {
    if (options.bnEpsilon && !(*options.bnEpsilon > 0 && std::isfinite(*options.bnEpsilon)))
        throw usageError("--bn-epsilon must be a positive number");
    if (info.format == Format::Onnx) {
        if (!options.foldBn.empty() || options.bnEpsilon)
            throw usageError("--fold-bn and --bn-epsilon are for files without a layer graph; '" +
                             info.path +
                             "' has one, which places its batch norms and gives their "
                             "epsilon");
        Topology t;
        auto file = onnxfmt::OnnxFile::open(info.path);
        onnxfmt::Graph graph(*file);
        onnxfmt::analysePairs(info, graph, t);
        detail::findOnnxRegions(info, graph, t);
        return t;
    }
    h5::Silence quiet;
    h5::Handle file = h5::openExisting(info.path, false);
    return detail::buildTopology(info, file.get(), options);
}

Topology detail::buildTopology(const ModelInfo& info, hid_t file, const TopologyOptions& options,
                               const keras::Graph* built) {
    if (options.bnEpsilon && !(*options.bnEpsilon > 0 && std::isfinite(*options.bnEpsilon)))
        throw usageError("--bn-epsilon must be a positive number");
    h5::Silence quiet;
    bool keras = info.format == Format::Keras2 || info.format == Format::Keras3;
    std::optional<keras::Graph> read;
    if (keras && !built) read = kerasGraph(file, info.path);
    if (const keras::Graph* graph = built ? built : read ? &*read : nullptr) {
        // Detected with the format when the file was listed.
        std::string root = info.kerasRoot;
        if (root.empty() && info.format == Format::Keras2) formats::detect(file, root);
        Topology t;
        if (detail::analyseKeras(info, *graph, file, root.empty() ? "/" : root,
                                 info.format == Format::Keras3, t)) {
            if (!options.foldBn.empty() || options.bnEpsilon)
                throw usageError(
                    "--fold-bn and --bn-epsilon are for files without a layer graph; '" +
                    info.path + "' has one, which places its batch norms and gives their epsilon");
            return t;
        }
    }
    // Keras 2 lists layers in model order; other files list names alphabetically.
    Topology t;
    detail::guessPairs(info, file, info.format != Format::Keras2, options, t);
    return t;
}

PairPlan Topology::suggest(bool allowRelu6) const {
    std::map<std::string, int> rank;
    for (size_t i = 0; i < order_.size(); ++i) rank.emplace(order_[i], int(i));
    auto position = [&](const std::string& name) {
        auto it = rank.find(name);
        return it == rank.end() ? INT_MAX : it->second;
    };
    PairPlan plan;
    std::vector<const Link*> admitted;
    for (const auto& l : links_) {
        if (!l.relu6.empty() && !allowRelu6)
            plan.rejected.push_back({{l.first, l.second}, relu6Reason(l)});
        else
            admitted.push_back(&l);
    }
    std::stable_sort(admitted.begin(), admitted.end(), [&](const Link* a, const Link* b) {
        return position(a->first) < position(b->first);
    });
    plan.suggested = chains(admitted);
    plan.rejectedRegions = rejectedRegions_;
    for (const auto& r : regions_) {
        if (!r.relu6.empty() && !allowRelu6)
            plan.rejectedRegions.push_back({r.region, detail::regionRelu6Reason(r.relu6)});
        else
            plan.regions.push_back(r);
    }
    // A candidate pair that an admitted region equalizes stays refused as a pair, and says so.
    auto covered = [&](const Rejection& r) {
        if (r.layers.size() != 2) return false;
        return std::any_of(plan.regions.begin(), plan.regions.end(), [&](const RegionLink& g) {
            const auto& src = g.region.sources;
            const auto& snk = g.region.sinks;
            return std::find(src.begin(), src.end(), r.layers[0]) != src.end() &&
                   std::find(snk.begin(), snk.end(), r.layers[1]) != snk.end();
        });
    };
    for (const auto& r : rejected_) {
        plan.rejected.push_back(r);
        if (covered(r)) plan.rejected.back().reason += "; " + std::string(kInRegion);
    }
    auto key = [&](const Rejection& r) {
        return std::pair{position(r.layers.empty() ? "" : r.layers.front()),
                         position(r.layers.size() < 2 ? "" : r.layers[1])};
    };
    std::stable_sort(plan.rejected.begin(), plan.rejected.end(),
                     [&](const Rejection& a, const Rejection& b) { return key(a) < key(b); });
    return plan;
}

std::optional<Link> Topology::link(const std::string& first, const std::string& second,
                                   bool allowRelu6, std::string* reason) const {
    auto refuse = [&](const std::string& why) -> std::optional<Link> {
        if (reason) *reason = why;
        return std::nullopt;
    };
    if (!known_) {
        if (auto problem = detail::unattributedProblem(*this, first)) return refuse(*problem);
        Link l;
        l.first = first;
        l.second = second;
        l.guessed = true;
        for (const auto& bn : batchNorms_)
            if (bn.after == first) l.batchNorm = bn;
        return l;
    }
    for (const auto& l : links_) {
        if (l.first != first || l.second != second) continue;
        if (!l.relu6.empty() && !allowRelu6) return refuse(relu6Reason(l));
        return l;
    }
    for (const auto& r : rejected_)
        if (r.layers.size() == 2 && r.layers[0] == first && r.layers[1] == second)
            return refuse(r.reason);
    auto nestedIn = [&](const std::string& layer) {
        auto it = nestedIn_.find(layer);
        return it == nestedIn_.end() ? std::string() : it->second;
    };
    if (nestedIn(first) != nestedIn(second))
        return refuse(detail::nestedBoundaryReason(
            first, second, nestedIn(first).empty() ? nestedIn(second) : nestedIn(first)));
    for (const auto* name : {&first, &second})
        if (std::find(order_.begin(), order_.end(), *name) == order_.end())
            return refuse("'" + *name + "' is not a layer with weights in the model's graph");
    return refuse("'" + second + "' does not take its input from '" + first +
                  "' in the layer graph (other layers with weights lie between them, or they "
                  "are on different branches)");
}

std::optional<RegionLink> Topology::region(const std::vector<std::string>& sources,
                                           const std::vector<std::string>& sinks, bool allowRelu6,
                                           std::string* reason) const {
    auto same = [](std::vector<std::string> a, std::vector<std::string> b) {
        std::sort(a.begin(), a.end());
        std::sort(b.begin(), b.end());
        return a == b;
    };
    auto refuse = [&](const std::string& why) -> std::optional<RegionLink> {
        if (reason) *reason = why;
        return std::nullopt;
    };
    for (const auto& r : regions_) {
        if (!same(r.region.sources, sources) || !same(r.region.sinks, sinks)) continue;
        if (!r.relu6.empty() && !allowRelu6) return refuse(detail::regionRelu6Reason(r.relu6));
        return r;
    }
    for (const auto& r : rejectedRegions_)
        if (same(r.region.sources, sources) && same(r.region.sinks, sinks)) return refuse(r.reason);
    return refuse(known_ ? "the layer graph has no region with exactly these sources and sinks "
                           "(see 'cle pairs')"
                         : "the file has no layer graph, so regions cannot be checked");
}

const BatchNormRef* Topology::batchNormAfter(const std::string& layer) const {
    for (const auto& bn : batchNorms_)
        if (bn.after == layer) return &bn;
    return nullptr;
}

void Topology::addCandidate(const ModelInfo& info, Link link, std::optional<std::string> problem) {
    if (!problem) problem = pairProblem(info, link.first, link.second);
    if (problem)
        rejected_.push_back({{link.first, link.second}, *problem});
    else
        links_.push_back(std::move(link));
}

std::string detail::nestedBoundaryReason(const std::string& first, const std::string& second,
                                         const std::string& model) {
    return "'" + first + "' and '" + second +
           "' lie on the two sides of the boundary of nested "
           "model '" +
           model + "'; pairs across a nested model's boundary are not equalized";
}

std::string planJson(const PairPlan& plan) {
    nlohmann::ordered_json j;
    j["suggested"] = nlohmann::ordered_json::array();
    for (const auto& s : plan.suggested) {
        nlohmann::ordered_json e;
        e["layers"] = s.layers;
        e["guessed"] = s.guessed;
        j["suggested"].push_back(std::move(e));
    }
    j["rejected"] = nlohmann::ordered_json::array();
    for (const auto& r : plan.rejected) {
        nlohmann::ordered_json e;
        e["layers"] = r.layers;
        e["reason"] = r.reason;
        j["rejected"].push_back(std::move(e));
    }
    j["regions"] = nlohmann::ordered_json::array();
    for (const auto& r : plan.regions) {
        nlohmann::ordered_json e;
        e["sources"] = r.region.sources;
        e["sinks"] = r.region.sinks;
        j["regions"].push_back(std::move(e));
    }
    j["rejected_regions"] = nlohmann::ordered_json::array();
    for (const auto& r : plan.rejectedRegions) {
        nlohmann::ordered_json e;
        e["sources"] = r.region.sources;
        e["sinks"] = r.region.sinks;
        e["reason"] = r.reason;
        j["rejected_regions"].push_back(std::move(e));
    }
    return json_text::dump(j, 2);
}

}  // namespace cle::core
