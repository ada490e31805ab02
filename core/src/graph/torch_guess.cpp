// Pairs for files without a layer graph (PyTorch state dicts, Keras 3 .weights.h5): consecutive
// layers in name order whose channels match, when nothing the file holds could lie between them.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "cle/core/layer_pair.h"
#include "graph/topology_detail.h"

namespace cle::core::detail {

namespace {

bool isDigit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

// A kernel that may be a depthwise convolution: Keras marks it, a PyTorch one is [C, 1, k...].
bool mayBeDepthwise(const LayerInfo& l) {
    return l.depthwise ||
           (l.layout == Layout::Torch && l.rank() >= 3 && l.shape[1] == 1 && l.shape[0] > 1);
}

// The layers that may be depthwise convolutions, by channel count, in the file's order.
using DepthwiseIndex = std::unordered_map<std::int64_t, std::vector<const LayerInfo*>>;

DepthwiseIndex depthwiseByChannels(const ModelInfo& info) {
    DepthwiseIndex index;
    for (const auto& l : info.layers)
        if (mayBeDepthwise(l)) index[l.outChannels()].push_back(&l);
    return index;
}

// Name order says nothing about what lies between two layers: a depthwise layer as wide as the
// channels they share could sit between them (MobileNet's `block_1_depthwise` sorts before
// `block_1_expand` -> `block_1_project`).
std::optional<std::string> layerBetween(const ModelInfo& info, const DepthwiseIndex& depthwise,
                                        const std::string& first, const std::string& second) {
    const LayerInfo* a = info.find(first);
    const LayerInfo* b = info.find(second);
    if (mayBeDepthwise(*a) || actsDepthwise(*a, *b)) return std::nullopt;
    auto shared = [&](const std::string& name) {
        return std::mismatch(name.begin(), name.end(), first.begin(), first.end()).first -
               name.begin();
    };
    auto candidates = depthwise.find(a->outChannels());
    if (candidates == depthwise.end()) return std::nullopt;
    const LayerInfo* best = nullptr;  // the candidate named most like `first`: same block
    for (const LayerInfo* x : candidates->second) {
        if (x->name == first || x->name == second) continue;
        if (!best || shared(x->name) > shared(best->name)) best = x;
    }
    if (!best) return std::nullopt;
    return "depthwise layer '" + best->name + "' (" + std::to_string(best->outChannels()) +
           " channels) could sit between '" + first + "' and '" + second +
           "' (the layer order is guessed from names); if it does, pair them through it with "
           "--pairs " +
           first + "," + best->name + "," + second;
}

}  // namespace

std::optional<std::string> unattributedProblem(const Topology& t, const std::string& first) {
    std::string reasons;
    for (const auto& n : t.unattributed_)
        if (std::find(n.couldFollow.begin(), n.couldFollow.end(), first) != n.couldFollow.end())
            reasons += (reasons.empty() ? "" : "; ") + unattributedReason(n, first);
    if (reasons.empty()) return std::nullopt;
    return reasons;
}

bool naturalLess(const std::string& a, const std::string& b) {
    size_t i = 0, j = 0;
    while (i < a.size() && j < b.size()) {
        if (isDigit(a[i]) && isDigit(b[j])) {
            size_t ie = i, je = j;
            while (ie < a.size() && isDigit(a[ie])) ++ie;
            while (je < b.size() && isDigit(b[je])) ++je;
            std::string x = a.substr(i, ie - i), y = b.substr(j, je - j);
            x.erase(0, std::min(x.find_first_not_of('0'), x.size() - 1));
            y.erase(0, std::min(y.find_first_not_of('0'), y.size() - 1));
            if (x.size() != y.size()) return x.size() < y.size();
            if (x != y) return x < y;
            i = ie;
            j = je;
        } else {
            if (a[i] != b[j]) return a[i] < b[j];
            ++i;
            ++j;
        }
    }
    if (i < a.size() || j < b.size()) return j < b.size() && i == a.size();
    return a < b;  // equal but for leading zeros
}

void guessPairs(const ModelInfo& info, hid_t file, bool sortByName, const TopologyOptions& options,
                Topology& t) {
    t.known_ = false;
    for (const auto& l : info.layers) t.order_.push_back(l.name);
    if (sortByName) std::stable_sort(t.order_.begin(), t.order_.end(), naturalLess);
    attributeNorms(info, file, options, t);
    const DepthwiseIndex depthwise = depthwiseByChannels(info);
    std::unordered_map<std::string, const BatchNormRef*> normAfter;  // the last one, as before
    for (const auto& bn : t.batchNorms_) normAfter[bn.after] = &bn;
    for (size_t i = 0; i + 1 < t.order_.size(); ++i) {
        Link link;
        link.first = t.order_[i];
        link.second = t.order_[i + 1];
        link.guessed = true;
        if (auto bn = normAfter.find(link.first); bn != normAfter.end())
            link.batchNorm = *bn->second;
        auto problem = pairProblem(info, link.first, link.second);
        if (!problem) problem = unattributedProblem(t, link.first);
        if (!problem) problem = layerBetween(info, depthwise, link.first, link.second);
        if (problem)
            t.rejected_.push_back({{link.first, link.second}, *problem});
        else
            t.links_.push_back(std::move(link));
    }
}

}  // namespace cle::core::detail
