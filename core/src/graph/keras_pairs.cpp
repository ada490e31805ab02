// Pairs from a Keras layer graph: every two weighted layers with nothing but function-preserving
// layers between them are a candidate; each is admitted as a Link or rejected with a reason.
#include <algorithm>
#include <map>
#include <set>

#include "cle/core/layer_pair.h"
#include "formats/formats.h"
#include "graph/regions.h"
#include "graph/topology_detail.h"
#include "hdf5/h5.h"

namespace cle::core::detail {

namespace {

using keras::Node;

struct Candidate {
    const Node* from = nullptr;
    const Node* to = nullptr;
    std::vector<const Node*> path;  ///< the layers strictly between `from` and `to`
};

enum class Step { Pass, Relu6, BatchNorm, GlobalPool, Reject };

std::string quote(const std::string& s) { return "'" + s + "'"; }

bool startsWith(const std::string& s, const std::string& prefix) {
    return s.compare(0, prefix.size(), prefix) == 0;
}

bool weightedClass(const std::string& cls) {
    static const std::set<std::string> kinds = {"Dense",
                                                "EinsumDense",
                                                "Embedding",
                                                "LSTM",
                                                "GRU",
                                                "SimpleRNN",
                                                "Bidirectional",
                                                "TimeDistributed",
                                                "MultiHeadAttention",
                                                "LocallyConnected1D",
                                                "LocallyConnected2D"};
    return kinds.count(cls) > 0 || cls.find("Conv") != std::string::npos;
}

bool separableClass(const std::string& cls) { return startsWith(cls, "SeparableConv"); }

// Layers that act on every channel alone and commute with a positive per-channel scale.
bool passingClass(const std::string& cls) {
    static const std::set<std::string> kinds = {"Dropout",
                                                "SpatialDropout1D",
                                                "SpatialDropout2D",
                                                "SpatialDropout3D",
                                                "GaussianDropout",
                                                "GaussianNoise",
                                                "AlphaDropout",
                                                "ActivityRegularization",
                                                "Identity",
                                                "LeakyReLU",
                                                "PReLU"};
    static const char* families[] = {"ZeroPadding",    "Cropping", "MaxPooling", "MaxPool",
                                     "AveragePooling", "AvgPool",  "UpSampling"};
    if (kinds.count(cls)) return true;
    return std::any_of(std::begin(families), std::end(families),
                       [&](const char* f) { return startsWith(cls, f); });
}

// An activation function by name: Pass, Relu6 (clipping) or Reject (not homogeneous).
Step activationStep(const std::string& act) {
    if (act == "linear" || act == "relu" || act == "leaky_relu" || act.empty()) return Step::Pass;
    if (act == "relu6") return Step::Relu6;
    return Step::Reject;
}

Step classify(const Node& n, std::string& reason) {
    const std::string& c = n.cls;
    if (c == "Activation") {
        auto act = keras::activationOf(n);
        Step s = activationStep(act);
        if (s == Step::Reject)
            reason = "activation " + quote(n.name) + " (" + act + ") is not positively homogeneous";
        return s;
    }
    if (c == "ReLU") {
        const auto& cfg = n.config;
        if (cfg.contains("threshold") && cfg["threshold"].is_number() &&
            cfg["threshold"].get<double>() != 0.0) {
            reason =
                "ReLU " + quote(n.name) + " has a threshold, so it is not positively homogeneous";
            return Step::Reject;
        }
        bool clips = cfg.contains("max_value") && cfg["max_value"].is_number();
        return clips ? Step::Relu6 : Step::Pass;
    }
    if (c == "ReLU6") return Step::Relu6;
    if (c == "BatchNormalization" || c == "SyncBatchNormalization") return Step::BatchNorm;
    if (startsWith(c, "GlobalAverage") || startsWith(c, "GlobalAvg") || startsWith(c, "GlobalMax"))
        return Step::GlobalPool;
    if (passingClass(c)) return Step::Pass;
    if (c == "Flatten" || c == "Reshape" || c == "Permute")
        reason = c + " " + quote(n.name) + " between them mixes the channel axis with other axes";
    else if (c == "ELU" || c == "Softmax" || c == "ThresholdedReLU")
        reason = c + " " + quote(n.name) + " is not positively homogeneous";
    else
        reason = quote(n.name) + " is a layer of kind " + quote(c) +
                 " that the pair finder does not know";
    return Step::Reject;
}

std::optional<std::string> mergeProblem(const Node& n) {
    static const std::set<std::string> merges = {"Subtract", "Multiply", "Average",
                                                 "Maximum",  "Minimum",  "Dot"};
    if (n.cls == "Add")
        return "residual Add " + quote(n.name) + " joins another branch to the path";
    if (n.cls == "Concatenate")
        return "Concatenate " + quote(n.name) + " joins other tensors to the path";
    if (merges.count(n.cls))
        return quote(n.name) + " (" + n.cls + ") combines the path with other tensors";
    if (n.inputs.size() > 1)
        return quote(n.name) + " (" + n.cls + ") takes " + std::to_string(n.inputs.size()) +
               " inputs";
    return std::nullopt;
}

std::optional<std::string> fanOut(const Node& n) {
    if (n.output && !n.consumers.empty())
        return "the output of " + quote(n.name) +
               " is also a model output, which equalizing would change";
    if (n.consumers.size() > 1)
        return "the output of " + quote(n.name) + " is used by " +
               std::to_string(n.consumers.size()) + " layers (branch or fan-out)";
    if (n.calls > 1)
        return quote(n.name) + " is called " + std::to_string(n.calls) + " times (a shared layer)";
    return std::nullopt;
}

// Weighted layer kinds whose channels cannot be scaled one by one, in the words `cle inspect`
// uses for them.
std::optional<std::string> kindProblem(const Node& n, bool asFirst) {
    auto cannot = [&](const std::string& why) {
        return "layer " + quote(n.name) + " cannot be equalized: " + why;
    };
    if (n.cls.size() > 9 && n.cls.ends_with("Transpose")) return cannot("transposed convolution");
    if (long groups = keras::configInt(n, "groups", 1); groups > 1)
        return cannot("grouped convolution (groups=" + std::to_string(groups) + ")");
    long multiplier = keras::configInt(n, "depth_multiplier", 1);
    bool pointwiseSide = asFirst && separableClass(n.cls);
    if (multiplier > 1 && !pointwiseSide)
        return cannot("depth multiplier " + std::to_string(multiplier) +
                      " (only 1 can be equalized)");
    return std::nullopt;
}

// The rank of a layer's output tensor: a convolution's kernel has as many axes; a Dense layer's
// output rank is known only when the batch norm records its input shape (0: unknown).
int outputRank(const LayerInfo& info, const Node& bn) {
    if (info.rank() > 2) return info.rank();
    for (const char* key : {"batch_input_shape", "batch_shape"})
        if (bn.config.contains(key) && bn.config[key].is_array()) return int(bn.config[key].size());
    return 0;
}

// A batch norm is folded only when it normalizes over the layer's channel axis.
std::optional<std::string> axisProblem(const Node& layer, const LayerInfo& info, const Node& bn) {
    const bool channelsFirst = layer.config.value("data_format", std::string()) == "channels_first";
    const int rank = outputRank(info, bn);
    const int channel = channelsFirst ? 1 : rank - 1;
    std::optional<long> axis = keras::batchNormAxis(bn);
    if (axis && rank == 0 && *axis == -1) return std::nullopt;
    if (axis && rank > 0 && (*axis < 0 ? *axis + rank : *axis) == channel) return std::nullopt;
    std::string which = bn.config.contains("axis") ? bn.config["axis"].dump() : "-1";
    if (rank == 0)
        return "batch norm " + quote(bn.name) + " normalizes axis " + which +
               ", which cannot be checked against the channel axis of " + quote(layer.name) +
               " (only -1 can), so it is not folded into it";
    return "batch norm " + quote(bn.name) + " normalizes axis " + which +
           ", not the channel axis (" + std::to_string(channel) + ") of the output of " +
           quote(layer.name) + ", so it cannot be folded into it";
}

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
        if (l.name == base || startsWith(l.name, base + "/")) inner.push_back(l.name);
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
    auto problem = kindProblem(n, false);
    if (!problem) problem = pairProblem(info_, link.first, link.second);
    if (problem)
        t.rejected_.push_back({{link.first, link.second}, *problem});
    else
        t.links_.push_back(link);
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
    if (!problem) problem = pairProblem(info_, link.first, link.second);
    if (problem)
        t.rejected_.push_back({{link.first, link.second}, *problem});
    else
        t.links_.push_back(std::move(link));
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

// conv -> batch norm -> ReLU -> (pooling, dropout, padding)* -> conv: the DFQ high-bias
// absorption applies.
bool reluAfterBatchNorm(const std::vector<const Node*>& path) {
    auto isRelu = [](const Node& n) {
        if (n.cls == "ReLU")
            return !n.config.contains("threshold") || !n.config["threshold"].is_number() ||
                   n.config["threshold"].get<double>() == 0.0;
        if (n.cls == "ReLU6") return true;
        auto act = n.cls == "Activation" ? keras::activationOf(n) : std::string();
        return act == "relu" || act == "relu6";
    };
    if (path.size() < 2 || !isRelu(*path[1])) return false;
    for (size_t i = 2; i < path.size(); ++i) {
        const std::string& c = path[i]->cls;
        if (c == "Activation" || c.find("ReLU") != std::string::npos || c == "PReLU") return false;
    }
    return true;
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
