// Pairs from a Keras layer graph: every two weighted layers with nothing but function-preserving
// layers between them are a candidate; each is admitted as a Link or rejected with a reason.
#include <algorithm>
#include <map>
#include <set>

#include "formats/formats.h"
#include "graph/keras_steps.h"
#include "graph/regions.h"
#include "graph/topology_detail.h"
#include "hdf5/h5.h"

namespace cle::core::detail {

namespace {

using keras::activationStep;
using keras::axisProblem;
using keras::classify;
using keras::fanOut;
using keras::kindProblem;
using keras::mergeProblem;
using keras::Node;
using keras::reluAfterBatchNorm;
using keras::Step;
using keras::weightedClass;

struct Candidate {
    const Node* from = nullptr;
    const Node* to = nullptr;
    std::vector<const Node*> path;  ///< the layers strictly between `from` and `to`
};

std::string quote(const std::string& s) { return "'" + s + "'"; }

class KerasPairs {
public:
    /// `nested` names the outermost nested model that `graph` belongs to ("" for the model
    /// itself): Keras 2 stores its layers' weights in that model's group, named "nested/layer".
    /// Keras 3 (`keras3`): `nested` is the nested model's name as listed, and `groups` the HDF5
    /// group holding the graph's layers ("/layers", "/layers/functional/layers").
    KerasPairs(const ModelInfo& info, const keras::Graph& graph, hid_t file, std::string root,
               bool keras3, std::string nested = "", std::string groups = "")
        : info_(info),
          graph_(graph),
          file_(file),
          root_(std::move(root)),
          keras3_(keras3),
          nested_(std::move(nested)),
          groups_(std::move(groups)) {
        if (keras3_ && groups_.empty()) groups_ = "/" + formats::keras3Container(file_);
        nameStorage();
    }
    bool mapsAnyLayer() const;
    void run(Topology& t) const;

private:
    void nameStorage();
    const std::string& stored(const Node& n) const { return storage_.at(n.name); }
    std::vector<std::string> layersOf(const Node& n) const;
    std::vector<std::string> innerLayers(const Node& n) const;
    bool opaque(const Node& n) const;
    bool terminal(const Node& n) const;
    std::string firstLayer(const Node& n) const;
    std::string lastLayer(const Node& n) const;
    void walk(const Node& start, const Node& at, std::vector<const Node*>& path,
              std::set<std::string>& seen, std::vector<Candidate>& out) const;
    void addOpaque(const Node& n, Topology& t) const;
    void addNested(const Node& n, Topology& t) const;
    void addBatchNorm(const Node& n, Topology& t) const;
    std::optional<BatchNormRef> batchNormAfter(const Node& layer, const Node& bn,
                                               std::string* problem) const;
    std::optional<std::string> boundaryProblem(const Candidate& c, Link& link) const;
    bool analysable(const Node& n) const { return n.nested && n.inner; }
    void addSeparable(const Node& n, Topology& t) const;
    void addRegions(Topology& t) const;
    std::optional<std::string> regionLayerProblem(const Node& n, bool asSource) const;
    void addCandidate(const Candidate& c, Topology& t) const;
    std::optional<std::string> candidateProblem(const Candidate& c, Link& link) const;
    std::optional<std::string> endsProblem(const Candidate& c, Link& link) const;
    std::optional<std::string> stepProblem(const Candidate& c, size_t i, Link& link) const;
    std::optional<std::string> foldBatchNorm(const Candidate& c, size_t i, Link& link) const;

    const ModelInfo& info_;
    const keras::Graph& graph_;
    hid_t file_;
    std::string root_;
    bool keras3_;
    std::string nested_;
    std::string groups_;
    std::map<std::string, std::string> storage_;  ///< graph name -> name in the weight file
    std::map<std::string, std::string> group_;    ///< Keras 3: graph name -> its HDF5 group
};

void KerasPairs::nameStorage() {
    if (keras3_) {
        // Keras 3 stores a model's layers under names made from their class ("conv2d",
        // "conv2d_1"), not under the layer names of the config.
        auto places = keras::keras3Places(file_, graph_, groups_, nested_);
        for (const auto& n : graph_.nodes()) {
            auto it = places.find(n.name);
            // An input stores nothing and matches no layer.
            storage_[n.name] = it == places.end() ? "\n" + n.name : it->second.name;
            if (it != places.end()) group_[n.name] = it->second.group;
        }
        return;
    }
    for (const auto& n : graph_.nodes())
        storage_[n.name] = nested_.empty() ? n.name : nested_ + "/" + n.name;
}

std::vector<std::string> KerasPairs::layersOf(const Node& n) const {
    const std::string& base = stored(n);
    if (info_.find(base + "/depthwise") && info_.find(base + "/pointwise"))
        return {base + "/depthwise", base + "/pointwise"};
    if (info_.find(base)) return {base};
    return {};
}

std::vector<std::string> KerasPairs::innerLayers(const Node& n) const {
    std::vector<std::string> inner;
    const std::string& base = stored(n);
    for (const auto& l : info_.layers)
        if (l.name == base || l.name.starts_with(base + "/")) inner.push_back(l.name);
    return inner;
}

bool KerasPairs::opaque(const Node& n) const {
    if (n.nested) return true;
    // A layer holding several kernels (attention, wrappers) other than a separable convolution.
    return layersOf(n).size() != 2 && innerLayers(n).size() > 1;
}

bool KerasPairs::terminal(const Node& n) const {
    return opaque(n) || weightedClass(n.cls) || !layersOf(n).empty();
}

std::string KerasPairs::firstLayer(const Node& n) const {
    auto layers = layersOf(n);
    return opaque(n) || layers.empty() ? stored(n) : layers.front();
}

std::string KerasPairs::lastLayer(const Node& n) const {
    auto layers = layersOf(n);
    return opaque(n) || layers.empty() ? stored(n) : layers.back();
}

bool KerasPairs::mapsAnyLayer() const {
    if (info_.layers.empty()) return true;
    return std::any_of(graph_.nodes().begin(), graph_.nodes().end(),
                       [&](const Node& n) { return !innerLayers(n).empty(); });
}

// Depth-first from `at` through layers without weights; every weighted (or nested) layer reached
// is a candidate partner of `start`.
void KerasPairs::walk(const Node& start, const Node& at, std::vector<const Node*>& path,
                      std::set<std::string>& seen, std::vector<Candidate>& out) const {
    // An explicit stack (node, next consumer): a chain of thousands of layers without weights
    // must not exhaust the call stack. `path` holds every node on the stack but `at`.
    std::vector<std::pair<const Node*, size_t>> stack{{&at, 0}};
    while (!stack.empty()) {
        auto& [node, i] = stack.back();
        if (i == node->consumers.size()) {
            stack.pop_back();
            if (!stack.empty()) path.pop_back();
            continue;
        }
        const Node* next = graph_.find(node->consumers[i++]);
        if (!next || !seen.insert(next->name).second) continue;
        if (terminal(*next)) {
            out.push_back({&start, next, path});
            continue;
        }
        path.push_back(next);
        stack.push_back({next, 0});
    }
}

void KerasPairs::run(Topology& t) const {
    t.known_ = true;
    for (const auto& n : graph_.nodes()) {
        if (analysable(n)) {
            addNested(n, t);
            continue;
        }
        if (opaque(n)) {
            addOpaque(n, t);
            continue;
        }
        for (const auto& l : layersOf(n)) {
            t.order_.push_back(l);
            if (!nested_.empty()) t.nestedIn_[l] = nested_;
        }
        if (layersOf(n).size() == 2) addSeparable(n, t);
        addBatchNorm(n, t);
    }
    if (nested_.empty())
        for (const auto& l : info_.layers)  // weights of layers the config does not mention
            if (std::find(t.order_.begin(), t.order_.end(), l.name) == t.order_.end())
                t.order_.push_back(l.name);
    for (const auto& n : graph_.nodes()) {
        if (!terminal(n)) continue;
        std::vector<Candidate> candidates;
        std::vector<const Node*> path;
        std::set<std::string> seen;
        walk(n, n, path, seen, candidates);
        for (const auto& c : candidates) addCandidate(c, t);
    }
    addRegions(t);
}

void KerasPairs::addRegions(Topology& t) const {
    detail::RegionContext context{info_, graph_.nodes(), {}, {}, {}, {}, {}, {}, {}, {}, {}};
    context.find = [this](const std::string& name) { return graph_.find(name); };
    context.terminal = [this](const Node& n) { return terminal(n); };
    context.firstLayer = [this](const Node& n) { return firstLayer(n); };
    context.lastLayer = [this](const Node& n) { return lastLayer(n); };
    context.layerProblem = [this](const Node& n, bool asSource) {
        return regionLayerProblem(n, asSource);
    };
    context.classify = [](const Node& n, std::string& reason) {
        switch (classify(n, reason)) {
            case Step::Reject:
                return RegionStep::Reject;
            case Step::Relu6:
                return RegionStep::Relu6;
            case Step::BatchNorm:
                return RegionStep::BatchNorm;
            default:
                return RegionStep::Pass;  // global pooling commutes with a channel scale
        }
    };
    context.foldBatchNorm = [this](const Node& layer, const Node& bn, std::string* problem) {
        return batchNormAfter(layer, bn, problem);
    };
    context.activation = [](const Node& n) { return keras::activationOf(n); };
    findRegions(context, t);
}

// Why a weighted layer cannot be a region's source (its outputs scaled) or sink (its inputs).
std::optional<std::string> KerasPairs::regionLayerProblem(const Node& n, bool asSource) const {
    if (n.nested || opaque(n))
        return quote(n.name) + " (" + n.cls +
               ") is not analysed, so regions with it are not "
               "equalized";
    if (auto p = kindProblem(n, asSource)) return p;
    if (n.calls > 1)
        return quote(n.name) + " is called " + std::to_string(n.calls) + " times (a shared layer)";
    const std::string name = asSource ? lastLayer(n) : firstLayer(n);
    const LayerInfo* l = info_.find(name);
    if (!l) return quote(name) + " is not a layer with weights in the file";
    if (!l->supported)
        return "layer " + quote(name) + " cannot be equalized: " + l->unsupportedReason;
    return std::nullopt;
}

// A nested model's graph is analysed like the outer one; its layers are "model/layer".
void KerasPairs::addNested(const Node& n, Topology& t) const {
    if (keras3_) {
        std::string container = groups_.substr(groups_.find_last_of('/'));
        KerasPairs inner(info_, *n.inner, file_, root_, true, stored(n),
                         group_.at(n.name) + container);
        inner.run(t);
        return;
    }
    KerasPairs inner(info_, *n.inner, file_, root_, keras3_, nested_.empty() ? n.name : nested_);
    inner.run(t);
}

// The batch norm a layer's output goes to and nothing else, folded whenever the layer is
// equalized so that its ranges are those of the deployed (folded) weights.
void KerasPairs::addBatchNorm(const Node& n, Topology& t) const {
    auto layers = layersOf(n);
    if (layers.empty() || n.consumers.size() != 1 || n.output || n.calls > 1) return;
    const Node* bn = graph_.find(n.consumers.front());
    if (!bn || (bn->cls != "BatchNormalization" && bn->cls != "SyncBatchNormalization")) return;
    if (bn->calls > 1 || bn->inputs.size() != 1) return;
    if (auto ref = batchNormAfter(n, *bn, nullptr)) t.batchNorms_.push_back(std::move(*ref));
}

std::optional<BatchNormRef> KerasPairs::batchNormAfter(const Node& layer, const Node& bn,
                                                       std::string* problem) const {
    auto refuse = [&](const std::string& why) -> std::optional<BatchNormRef> {
        if (problem) *problem = why;
        return std::nullopt;
    };
    const std::string name = lastLayer(layer);
    const LayerInfo* info = info_.find(name);
    if (!info) return refuse(quote(name) + " is not a layer with weights in the file");
    auto act = keras::activationOf(layer);
    if (act != "linear")
        return refuse("batch norm " + quote(bn.name) + " follows the " + quote(act) +
                      " activation of " + quote(layer.name) + ", so it cannot be folded into it");
    if (auto why = axisProblem(layer, *info, bn)) return refuse(*why);
    std::string group =
        keras3_ ? group_.at(bn.name)
                : (root_ == "/" ? "" : root_) + "/" + (nested_.empty() ? stored(bn) : nested_);
    std::string why;
    auto ref = keras::batchNormRef(file_, root_, group, keras3_, bn, &why);
    if (!ref) return refuse(why);
    for (const auto* path : {&ref->meanPath, &ref->varPath, &ref->gammaPath, &ref->betaPath}) {
        if (path->empty()) continue;
        h5::Handle d(H5Dopen2(file_, path->c_str(), H5P_DEFAULT));
        auto shape = d ? h5::datasetShape(d.get()) : std::vector<std::int64_t>{};
        if (shape.size() != 1 || shape[0] != info->outChannels())
            return refuse("batch norm " + quote(bn.name) + " has " +
                          (shape.size() == 1 ? std::to_string(shape[0]) : std::string("no")) +
                          " values per parameter but " + quote(name) + " has " +
                          std::to_string(info->outChannels()) +
                          " output channels, so it cannot be folded into it");
    }
    ref->after = name;
    return ref;
}

void KerasPairs::addOpaque(const Node& n, Topology& t) const {
    auto inner = innerLayers(n);
    std::string why = n.nested ? "inside nested model " + quote(n.name) +
                                     ", whose layer graph cannot be read: not analysed"
                               : "inside " + quote(n.name) + " (" + n.cls +
                                     "), which holds several kernels: not analysed";
    for (size_t i = 0; i < inner.size(); ++i) {
        t.order_.push_back(inner[i]);
        if (i > 0) t.rejected_.push_back({{inner[i - 1], inner[i]}, why});
    }
}

// A separable convolution's depthwise and pointwise kernels with nothing between them.
void KerasPairs::addSeparable(const Node& n, Topology& t) const {
    auto halves = layersOf(n);
    Link link;
    link.first = halves[0];
    link.second = halves[1];
    t.addCandidate(info_, std::move(link), kindProblem(n, false));
}

void KerasPairs::addCandidate(const Candidate& c, Topology& t) const {
    Link link;
    link.first = lastLayer(*c.from);
    link.second = firstLayer(*c.to);
    if (auto boundary = boundaryProblem(c, link)) {
        t.rejected_.push_back({{link.first, link.second}, *boundary});
        return;
    }
    auto problem = candidateProblem(c, link);
    t.addCandidate(info_, std::move(link), std::move(problem));
}

// A candidate with a nested model at one end would pair layers on the two sides of its boundary.
std::optional<std::string> KerasPairs::boundaryProblem(const Candidate& c, Link& link) const {
    const Node* model = analysable(*c.from) ? c.from : analysable(*c.to) ? c.to : nullptr;
    if (!model) return std::nullopt;
    std::vector<std::string> inner = innerLayers(*model);  // in the nested graph's order
    if (!inner.empty()) {
        if (model == c.from) link.first = inner.back();
        if (model == c.to) link.second = inner.front();
    }
    return nestedBoundaryReason(link.first, link.second, model->name);
}

std::optional<std::string> KerasPairs::candidateProblem(const Candidate& c, Link& link) const {
    if (auto p = endsProblem(c, link)) return p;
    if (auto p = fanOut(*c.from)) return p;
    for (size_t i = 0; i < c.path.size(); ++i)
        if (auto p = stepProblem(c, i, link)) return p;
    link.reluAfterBatchNorm = link.batchNorm && reluAfterBatchNorm(c.path);
    return std::nullopt;
}

std::optional<std::string> KerasPairs::endsProblem(const Candidate& c, Link& link) const {
    for (const Node* n : {c.from, c.to}) {
        if (n->nested)
            return quote(n->name) + " is a nested model whose layer graph cannot be read, so " +
                   "pairs with its layers are not equalized";
        if (opaque(*n))
            return quote(n->name) + " (" + n->cls + ") holds several kernels and is not analysed";
        if (auto p = kindProblem(*n, n == c.from)) return p;
    }
    if (c.to->calls > 1)
        return quote(c.to->name) + " is called " + std::to_string(c.to->calls) +
               " times (a shared layer)";
    if (c.to->inputs.size() > 1) return quote(c.to->name) + " takes several inputs";
    auto act = keras::activationOf(*c.from);
    switch (activationStep(act)) {
        case Step::Relu6:
            link.relu6.push_back(c.from->name);
            break;
        case Step::Reject:
            return quote(c.from->name) + " has activation " + quote(act) +
                   ", which is not positively homogeneous";
        default:
            break;
    }
    return std::nullopt;
}

std::optional<std::string> KerasPairs::stepProblem(const Candidate& c, size_t i, Link& link) const {
    const Node& n = *c.path[i];
    if (auto p = mergeProblem(n)) return p;
    std::string reason;
    switch (classify(n, reason)) {
        case Step::Reject:
            return reason;
        case Step::Relu6:
            link.relu6.push_back(n.name);
            if (n.cls == "ReLU") link.relu6Max[n.name] = n.config.at("max_value").get<double>();
            break;
        case Step::BatchNorm:
            if (auto p = foldBatchNorm(c, i, link)) return p;
            break;
        case Step::GlobalPool:
            if (c.to->cls != "Dense")
                return "global pooling " + quote(n.name) +
                       " is admissible only directly before a Dense layer, not before " +
                       quote(c.to->name);
            break;
        case Step::Pass:
            break;
    }
    return fanOut(n);
}

std::optional<std::string> KerasPairs::foldBatchNorm(const Candidate& c, size_t i,
                                                     Link& link) const {
    const Node& bn = *c.path[i];
    if (i != 0)
        return "batch norm " + quote(bn.name) + " does not directly follow " + quote(c.from->name) +
               ", so it cannot be folded into it";
    std::string problem;
    auto ref = batchNormAfter(*c.from, bn, &problem);
    if (!ref) return problem;
    link.batchNorm = std::move(ref);
    return std::nullopt;
}

}  // namespace

bool analyseKeras(const ModelInfo& info, const keras::Graph& graph, hid_t file,
                  const std::string& root, bool keras3, Topology& topology) {
    KerasPairs pairs(info, graph, file, root, keras3);
    if (!pairs.mapsAnyLayer()) return false;
    pairs.run(topology);
    return true;
}

}  // namespace cle::core::detail
