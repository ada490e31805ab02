// Regions: a breadth-first search over the layers without weights that are joined to each other
// (as producer or consumer), stopping at weighted layers. Weighted producers are the sources,
// weighted consumers the sinks. Channels are then numbered with a union-find: an Add's inputs
// share channels, a Concatenate lays its inputs' channels side by side.
#include "graph/regions.h"

#include <algorithm>
#include <deque>
#include <map>
#include <numeric>
#include <set>

namespace cle::core::detail {

namespace {

using keras::Node;

std::string quote(const std::string& s) { return "'" + s + "'"; }

bool isMerge(const Node& n) { return n.cls == "Add" || n.cls == "Concatenate"; }

class Finder {
public:
    explicit Finder(const RegionContext& c) : c_(c) {}

    /// Grows the component that `seed`'s output belongs to; false when it was found before.
    bool grow(const Node& seed) {
        if (visitedSources_.count(seed.name) || seed.consumers.empty()) return false;
        addSource(seed);
        while (!queue_.empty()) {
            const Node* n = queue_.front();
            queue_.pop_front();
            expand(*n);
        }
        return true;
    }

    void finish(Topology& t);

private:
    void fail(const std::string& why) {
        if (!problem_) problem_ = why;
    }
    const Node* node(const std::string& name) const { return c_.find(name); }

    void addSource(const Node& w) {
        if (!sources_.insert(w.name).second) return;
        visitedSources_.insert(w.name);
        sourceOrder_.push_back(&w);
        if (auto p = c_.layerProblem(w, true)) fail(*p);
        if (w.output)
            fail("the output of " + quote(w.name) +
                 " is also a model output, which "
                 "equalizing would change");
        std::string act = c_.activation(w);
        if (act == "relu6")
            relu6_.push_back(w.name);
        else if (act != "linear" && act != "relu" && act != "leaky_relu")
            fail(quote(w.name) + " has activation " + quote(act) +
                 ", which is not positively homogeneous");
        for (const auto& name : w.consumers)
            if (const Node* n = node(name)) reach(*n);
    }

    void addSink(const Node& w) {
        if (!sinks_.insert(w.name).second) return;
        sinkOrder_.push_back(&w);
        if (auto p = c_.layerProblem(w, false)) fail(*p);
        if (w.inputs.size() > 1) fail(quote(w.name) + " takes several inputs");
    }

    // A consumer of a tensor in the region.
    void reach(const Node& n) {
        if (c_.terminal(n))
            addSink(n);
        else
            join(n);
    }

    // A producer of a tensor in the region.
    void reachBack(const Node& n) {
        if (c_.terminal(n))
            addSource(n);
        else if (n.cls == kZeroConstant)
            zeros_.insert(n.name);  // stays zero under any scale
        else if (n.cls == "InputLayer" || (n.inputs.empty() && n.cls != kConstant))
            fail("the network input " + quote(n.name) +
                 " reaches the region (an identity "
                 "shortcut from the input), and it has no layer whose channels could be scaled");
        else
            join(n);
    }

    void join(const Node& n) {
        if (!nodes_.insert(n.name).second) return;
        nodeOrder_.push_back(&n);
        queue_.push_back(&n);
    }

    void expand(const Node& n);
    bool checkStep(const Node& n);
    std::vector<int> ids(const Node& n);
    void fresh(std::int64_t count, std::vector<int>& out);
    bool channelAxis(const Node& concat);
    int find(int x) {
        return parent_[size_t(x)] == x ? x : parent_[size_t(x)] = find(parent_[size_t(x)]);
    }

    const RegionContext& c_;
    std::set<std::string> visitedSources_;  // over all components
    std::set<std::string> sources_, sinks_, nodes_, zeros_;
    std::vector<const Node*> sourceOrder_, sinkOrder_, nodeOrder_;
    std::deque<const Node*> queue_;
    std::optional<std::string> problem_;
    std::vector<std::string> relu6_;
    std::vector<BatchNormRef> batchNorms_;
    std::vector<int> parent_;
    std::map<std::string, std::vector<int>> ids_;

public:
    void reset() {
        sources_.clear();
        sinks_.clear();
        nodes_.clear();
        zeros_.clear();
        sourceOrder_.clear();
        sinkOrder_.clear();
        nodeOrder_.clear();
        problem_.reset();
        relu6_.clear();
        batchNorms_.clear();
        parent_.clear();
        ids_.clear();
    }
};

// Whether a layer without weights may lie inside a region; records the reason if not.
bool Finder::checkStep(const Node& n) {
    if (n.calls > 1) {
        fail(quote(n.name) + " is called " + std::to_string(n.calls) + " times (a shared layer)");
        return false;
    }
    if (n.output) {
        fail("the output of " + quote(n.name) +
             " is a model output, which equalizing would "
             "change");
        return false;
    }
    if (isMerge(n)) return true;
    if (n.inputs.size() > 1) {
        fail(quote(n.name) + " (" + n.cls + ") does not commute with a per-channel scale");
        return false;
    }
    std::string reason;
    switch (c_.classify(n, reason)) {
        case RegionStep::Pass:
            return true;
        case RegionStep::Relu6:
            relu6_.push_back(n.name);
            return true;
        case RegionStep::BatchNorm: {
            const Node* layer = n.inputs.empty() ? nullptr : node(n.inputs.front());
            std::string why = "batch norm " + quote(n.name) +
                              " does not directly follow a layer "
                              "it can be folded into, and it does not commute with a scale";
            if (layer && c_.terminal(*layer) && layer->consumers.size() == 1) {
                if (auto ref = c_.foldBatchNorm(*layer, n, &why)) {
                    batchNorms_.push_back(std::move(*ref));
                    return true;
                }
            }
            fail(why);
            return false;
        }
        case RegionStep::Reject:
            fail(reason);
            return false;
    }
    return false;
}

void Finder::expand(const Node& n) {
    // A refused Add or Concatenate is still followed, so that the refusal names the whole region.
    if (!checkStep(n) && !isMerge(n)) return;
    for (const auto& name : n.inputs)
        if (const Node* p = node(name)) reachBack(*p);
    for (const auto& name : n.consumers)
        if (const Node* m = node(name)) reach(*m);
}

void Finder::fresh(std::int64_t count, std::vector<int>& out) {
    for (std::int64_t k = 0; k < count; ++k) {
        out.push_back(int(parent_.size()));
        parent_.push_back(int(parent_.size()));
    }
}

// A Concatenate joins along the channel axis: -1, or the last axis of the sources' outputs (a
// convolution's output has as many axes as its kernel, a Dense layer's two).
bool Finder::channelAxis(const Node& concat) {
    const LayerInfo* l =
        sourceOrder_.empty() ? nullptr : c_.info.find(c_.lastLayer(*sourceOrder_.front()));
    if (c_.concatProblem) {
        auto problem = c_.concatProblem(concat, l);
        if (problem) fail(*problem);
        return !problem;
    }
    long axis = keras::configInt(concat, "axis", -1);
    if (axis == -1) return true;
    if (l && axis == l->rank() - 1) return true;
    fail("Concatenate " + quote(concat.name) + " joins along axis " + std::to_string(axis) +
         ", not the channel axis");
    return false;
}

// The region channels of a node's output (empty when they cannot be told).
std::vector<int> Finder::ids(const Node& n) {
    if (auto it = ids_.find(n.name); it != ids_.end()) return it->second;
    std::vector<int> out;
    ids_[n.name] = out;  // a cycle reads empty
    if (sources_.count(n.name)) {
        const LayerInfo* l = c_.info.find(c_.lastLayer(n));
        if (l) fresh(l->outChannels(), out);
    } else if (zeros_.count(n.name)) {
        fresh(keras::configInt(n, "channels", 0), out);
    } else if (n.cls == "Concatenate") {
        channelAxis(n);
        for (const auto& in : n.inputs) {
            const Node* p = node(in);
            auto part = p ? ids(*p) : std::vector<int>{};
            out.insert(out.end(), part.begin(), part.end());
        }
    } else if (!n.inputs.empty()) {
        const Node* p = node(n.inputs.front());
        if (p) out = ids(*p);
        for (size_t i = 1; i < n.inputs.size() && n.cls == "Add"; ++i) {
            const Node* q = node(n.inputs[i]);
            auto other = q ? ids(*q) : std::vector<int>{};
            if (other.size() != out.size()) {
                fail("the inputs of Add " + quote(n.name) + " have different channel counts");
                continue;
            }
            for (size_t k = 0; k < out.size(); ++k) parent_[size_t(find(other[k]))] = find(out[k]);
        }
    }
    ids_[n.name] = out;
    return out;
}

void Finder::finish(Topology& t) {
    auto branches = [](const Node* n) { return n->inputs.size() > 1 || n->consumers.size() > 1; };
    bool chain = sourceOrder_.size() <= 1 && sinkOrder_.size() <= 1 &&
                 std::none_of(nodeOrder_.begin(), nodeOrder_.end(), branches) &&
                 std::none_of(sourceOrder_.begin(), sourceOrder_.end(), branches);
    if (chain) return;  // a pair: the pair finder has it
    // Nothing reached a sink: the candidates the pair finder refuses say why already.
    if (problem_ && sinkOrder_.empty()) return;
    Region r;
    for (const Node* s : sourceOrder_) r.sources.push_back(c_.lastLayer(*s));
    for (const Node* s : sinkOrder_) r.sinks.push_back(c_.firstLayer(*s));
    if (!problem_) {
        std::vector<std::vector<int>> src, snk;
        for (const Node* s : sourceOrder_) src.push_back(ids(*s));
        for (const Node* s : sinkOrder_) {
            const Node* in = s->inputs.empty() ? nullptr : node(s->inputs.front());
            snk.push_back(in ? ids(*in) : std::vector<int>{});
            const LayerInfo* l = c_.info.find(r.sinks[snk.size() - 1]);
            if (l && l->inChannels() != std::int64_t(snk.back().size()))
                fail("channel mismatch: " + quote(r.sinks[snk.size() - 1]) + " has " +
                     std::to_string(l->inChannels()) + " input channels but the region gives it " +
                     std::to_string(snk.back().size()));
        }
        std::map<int, int> number;  // union-find root -> region channel
        auto map = [&](std::vector<int> v) {
            for (int& x : v) x = number.emplace(find(x), int(number.size())).first->second;
            return v;
        };
        for (auto& v : src) r.sourceChannels.push_back(map(v));
        for (auto& v : snk) r.sinkChannels.push_back(map(v));
        r.channels = int(number.size());
    }
    if (problem_) {
        t.rejectedRegions_.push_back({std::move(r), *problem_});
        return;
    }
    t.regions_.push_back({std::move(r), batchNorms_, relu6_});
}

}  // namespace

void findRegions(const RegionContext& context, Topology& topology) {
    Finder finder(context);
    for (const auto& n : context.nodes) {
        if (!context.terminal(n)) continue;
        finder.reset();
        if (finder.grow(n)) finder.finish(topology);
    }
}

std::string regionRelu6Reason(const std::vector<std::string>& relu6) {
    std::string names;
    for (size_t i = 0; i < relu6.size(); ++i) names += (i ? ", '" : "'") + relu6[i] + "'";
    return "clipping activation " + names +
           " (ReLU6 / max_value) is not positively homogeneous; pass --allow-relu6 (in the "
           "application: Allow ReLU6) to equalize across it, which turns it into a plain ReLU";
}

}  // namespace cle::core::detail
