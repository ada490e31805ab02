// Pairs from an ONNX node graph: every two layers with weights with nothing but
// function-preserving nodes between them are a candidate; each is admitted as a Link or rejected
// with the reason the Keras pair finder gives for the same structure.
#include "formats/onnx/onnx_pairs.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "cle/core/pairs.h"
#include "formats/onnx/onnx_graph.h"
#include "formats/onnx/onnx_ops.h"

namespace cle::core::onnxfmt {

namespace {

struct Candidate {
    int from = -1, to = -1;
    std::string arriving;   ///< the tensor through which the path enters `to`
    std::vector<int> path;  ///< the nodes strictly between
};

std::string quote(const std::string& s) { return "'" + s + "'"; }

class Pairs {
public:
    Pairs(const ModelInfo& info, const Graph& g) : info_(info), g_(g) {}
    void run(Topology& t) const;

private:
    const Node& node(int i) const { return g_.nodes()[size_t(i)]; }
    int consumerCount(const Node& n) const {
        size_t count = 0;
        for (const auto& o : n.outputs) count += g_.consumers(o).size();
        return int(count);
    }
    void walk(int start, std::vector<Candidate>& out) const;
    void addCandidate(const Candidate& c, Topology& t) const;
    std::optional<std::string> candidateProblem(const Candidate& c, Link& link) const;
    std::optional<std::string> fanOut(const Node& n) const;
    bool reluAfterBatchNorm(const Candidate& c) const;
    std::optional<std::string> mergeProblem(const Node& n) const;
    std::optional<std::string> stepProblem(const Candidate& c, size_t i, Link& link) const;
    std::optional<BatchNormRef> batchNormAfter(const Node& layer, const Node& bn,
                                               std::string* problem) const {
        return foldableBatchNorm(info_, g_, layer, bn, problem);
    }

    const ModelInfo& info_;
    const Graph& g_;
};

std::optional<std::string> Pairs::fanOut(const Node& n) const {
    for (const auto& o : n.outputs)
        if (g_.isGraphOutput(o))
            return "the output of " + quote(n.name) +
                   " is also a model output, which equalizing would change";
    if (int count = consumerCount(n); count > 1)
        return "the output of " + quote(n.name) + " is used by " + std::to_string(count) +
               " layers (branch or fan-out)";
    return std::nullopt;
}

std::optional<std::string> Pairs::mergeProblem(const Node& n) const {
    if (!n.biasOf.empty()) return std::nullopt;  // a MatMul's bias: part of that layer
    int data = 0;  // inputs computed in the graph (not stored tensors nor Constant nodes)
    for (const auto& i : n.inputs) {
        const int p = i.empty() ? -1 : g_.producer(i);
        if (!i.empty() && !g_.file().tensor(i) && (p < 0 || node(p).op != "Constant")) ++data;
    }
    if (n.op == "Add" && data > 1)
        return "residual Add " + quote(n.name) + " joins another branch to the path";
    if (n.op == "Concat")
        return "Concatenate " + quote(n.name) + " joins other tensors to the path";
    static const std::set<std::string> merges = {"Add", "Sub",  "Mul", "Div", "Max",
                                                 "Min", "Mean", "Sum", "Pow", "MatMul"};
    if (merges.count(n.op))
        return quote(n.name) + " (" + n.op + ") combines the path with other tensors";
    if (data > 1)
        return quote(n.name) + " (" + n.op + ") takes " + std::to_string(data) + " inputs";
    return std::nullopt;
}

void Pairs::walk(int start, std::vector<Candidate>& out) const {
    // An explicit stack: a chain of thousands of nodes without weights must not exhaust the call
    // stack. `path` holds every node on the stack but the start.
    std::set<int> seen;
    std::vector<int> path;
    struct Frame {
        int node;
        size_t output = 0, consumer = 0;
    };
    std::vector<Frame> stack{{start}};
    while (!stack.empty()) {
        Frame& f = stack.back();
        const Node& n = node(f.node);
        if (f.output == n.outputs.size()) {
            stack.pop_back();
            if (!stack.empty()) path.pop_back();
            continue;
        }
        const auto& readers = g_.consumers(n.outputs[f.output]);
        if (f.consumer == readers.size()) {
            ++f.output;
            f.consumer = 0;
            continue;
        }
        const std::string tensor = n.outputs[f.output];
        const int next = readers[f.consumer++];
        if (!seen.insert(next).second) continue;
        if (weightedOp(node(next).op)) {
            out.push_back({start, next, tensor, path});
            continue;
        }
        // Past a second merge every candidate is refused for the first one: not walked further.
        if (mergeProblem(node(next)) &&
            std::any_of(path.begin(), path.end(), [&](int p) { return mergeProblem(node(p)); }))
            continue;
        path.push_back(next);
        stack.push_back({next});
    }
}

void Pairs::run(Topology& t) const {
    t.known_ = true;
    for (const auto& l : g_.layers()) t.order_.push_back(l.name);
    for (int i = 0; i < int(g_.nodes().size()); ++i) {
        const Node& n = node(i);
        if (n.layer.empty()) continue;
        // The batch norm a layer's output goes to and nothing else, folded whenever the layer is
        // equalized.
        if (consumerCount(n) == 1 && !fanOut(n) && g_.consumers(n.outputs[0]).size() == 1) {
            const Node& next = node(g_.consumers(n.outputs[0]).front());
            if (next.op == "BatchNormalization")
                if (auto ref = batchNormAfter(n, next, nullptr)) t.batchNorms_.push_back(*ref);
        }
    }
    for (int i = 0; i < int(g_.nodes().size()); ++i) {
        if (!weightedOp(node(i).op)) continue;
        std::vector<Candidate> candidates;
        walk(i, candidates);
        for (const auto& c : candidates) addCandidate(c, t);
    }
}

void Pairs::addCandidate(const Candidate& c, Topology& t) const {
    Link link;
    const Node& from = node(c.from);
    const Node& to = node(c.to);
    link.first = from.layer.empty() ? from.name : from.layer;
    link.second = to.layer.empty() ? to.name : to.layer;
    auto problem = candidateProblem(c, link);
    t.addCandidate(info_, std::move(link), std::move(problem));
}

std::optional<std::string> Pairs::candidateProblem(const Candidate& c, Link& link) const {
    for (int i : {c.from, c.to})
        if (auto p = layerNodeProblem(info_, node(i))) return p;
    const Node& to = node(c.to);
    if (to.inputs.empty() || to.inputs[0] != c.arriving)
        return quote(to.name) + " takes several inputs";
    if (auto p = g_.outputProblem(node(c.from).layer))
        return "layer " + quote(node(c.from).layer) + " cannot be the first of a pair: " + *p;
    if (auto p = fanOut(node(c.from))) return p;
    for (size_t i = 0; i < c.path.size(); ++i)
        if (auto p = stepProblem(c, i, link)) return p;
    link.reluAfterBatchNorm = link.batchNorm && reluAfterBatchNorm(c);
    return std::nullopt;
}

// layer -> batch norm -> Relu (or a relaxed ReLU6 Clip) -> steps without another activation ->
// layer: the DFQ high-bias absorption applies, as for Keras graphs.
bool Pairs::reluAfterBatchNorm(const Candidate& c) const {
    static const std::set<std::string> activations = {"Relu", "LeakyRelu", "PRelu", "Clip"};
    if (c.path.size() < 2) return false;
    const std::string& relu = node(c.path[1]).op;  // a Clip here passed as a ReLU or ReLU6
    if (relu != "Relu" && relu != "Clip") return false;
    for (size_t i = 2; i < c.path.size(); ++i)
        if (activations.count(node(c.path[i]).op)) return false;
    return true;
}

std::optional<std::string> Pairs::stepProblem(const Candidate& c, size_t i, Link& link) const {
    const Node& n = node(c.path[i]);
    if (!n.biasOf.empty()) return fanOut(n);  // the first layer's bias, scaled with it
    if (auto p = mergeProblem(n)) return p;
    std::string reason;
    // After a global pooling the spatial axes are 1 x 1: flattening them keeps the channels.
    const bool flattensPooled =
        i > 0 && node(c.path[i - 1]).op == "GlobalAveragePool" &&
        ((n.op == "Flatten" && attrInt(*n.proto, "axis", 1) == 1) || n.op == "Squeeze");
    switch (flattensPooled ? Step::Pass : classify(g_, n, reason)) {
        case Step::Reject:
            return reason;
        case Step::Relu6:
            link.relu6.push_back(n.name);
            if (auto bounds = clipBounds(g_, n)) link.relu6Max[n.name] = bounds->second;
            break;
        case Step::BatchNorm: {
            if (i != 0)
                return "batch norm " + quote(n.name) + " does not directly follow " +
                       quote(node(c.from).name) + ", so it cannot be folded into it";
            std::string problem;
            auto ref = batchNormAfter(node(c.from), n, &problem);
            if (!ref) return problem;
            link.batchNorm = std::move(ref);
            break;
        }
        case Step::GlobalPool: {
            const std::string& op = node(c.to).op;
            const bool flattenedNext =
                i + 1 < c.path.size() &&
                (node(c.path[i + 1]).op == "Flatten" || node(c.path[i + 1]).op == "Squeeze");
            if ((op != "Gemm" && op != "MatMul") || (i + 2 < c.path.size() && flattenedNext) ||
                (i + 1 < c.path.size() && !flattenedNext))
                return "global pooling " + quote(n.name) +
                       " is admissible only directly before a Dense layer, not before " +
                       quote(node(c.to).name);
            break;
        }
        case Step::Pass:
            break;
    }
    return fanOut(n);
}

}  // namespace

bool weightedOp(const std::string& op) {
    return op == "Conv" || op == "Gemm" || op == "MatMul" || op == "ConvTranspose";
}

std::optional<std::string> layerNodeProblem(const ModelInfo& info, const Node& n) {
    if (n.layer.empty())
        return quote(n.name) + " (" + n.op +
               ") takes its weights from the graph, not from a "
               "tensor stored in the file";
    const LayerInfo* l = info.find(n.layer);
    if (l && !l->supported)
        return "layer " + quote(n.layer) + " cannot be equalized: " + l->unsupportedReason;
    return std::nullopt;
}

std::optional<BatchNormRef> foldableBatchNorm(const ModelInfo& model, const Graph& g,
                                              const Node& layer, const Node& bn,
                                              std::string* problem) {
    auto refuse = [&](const std::string& why) -> std::optional<BatchNormRef> {
        if (problem) *problem = why;
        return std::nullopt;
    };
    const LayerInfo* info = model.find(layer.layer);
    if (!info) return refuse(quote(layer.name) + " is not a layer with weights in the file");
    if (layer.op == "MatMul")
        return refuse("batch norm " + quote(bn.name) +
                      " normalizes axis 1, which need not be "
                      "the output channels of MatMul " +
                      quote(layer.name) + ", so it cannot be folded into it");
    if (attrInt(*bn.proto, "training_mode", 0) != 0 || bn.outputs.size() > 1)
        return refuse("batch norm " + quote(bn.name) +
                      " is in training mode, so it cannot be "
                      "folded into " +
                      quote(layer.name));
    if (bn.inputs.size() < 5) return refuse("batch norm " + quote(bn.name) + " lacks parameters");
    for (size_t k = 1; k < 5; ++k) {
        const onnx::TensorProto* t = g.file().tensor(bn.inputs[k]);
        auto d = t && !g.file().storageProblem(*t) && OnnxFile::floatType(*t)
                     ? std::vector<std::int64_t>(t->dims().begin(), t->dims().end())
                     : std::vector<std::int64_t>{};
        if (d.size() != 1 || d[0] != info->outChannels())
            return refuse("batch norm " + quote(bn.name) + " has " +
                          (d.size() == 1 ? std::to_string(d[0]) : std::string("no")) +
                          " values per parameter but " + quote(layer.layer) + " has " +
                          std::to_string(info->outChannels()) +
                          " output channels, so it cannot be folded into it");
    }
    for (size_t k = 1; k < 5; ++k)  // folding rewrites them: no other node may read them
        if (auto other = g.otherReader(bn.inputs[k], g.find(bn.name)); !other.empty())
            return refuse("batch norm " + quote(bn.name) + " shares its tensor " +
                          quote(bn.inputs[k]) + " with " + other + ", so it cannot be folded");
    BatchNormRef ref;
    ref.name = bn.name;
    ref.after = layer.layer;
    ref.gammaPath = bn.inputs[1];
    ref.betaPath = bn.inputs[2];
    ref.meanPath = bn.inputs[3];
    ref.varPath = bn.inputs[4];
    ref.epsilon = attrFloat(*bn.proto, "epsilon", 1e-5f);
    return ref;
}

void analysePairs(const ModelInfo& info, Topology& topology) {
    auto file = OnnxFile::open(info.path);
    Graph g(*file);
    Pairs(info, g).run(topology);
}

void analysePairs(const ModelInfo& info, const Graph& graph, Topology& topology) {
    Pairs(info, graph).run(topology);
}

LayerGraph layerGraph(const ModelInfo& info) {
    auto file = OnnxFile::open(info.path);
    Graph g(*file);
    LayerGraph out;
    std::vector<int> index(g.nodes().size(), -1);
    for (size_t i = 0; i < g.nodes().size(); ++i) {
        const Node& n = g.nodes()[i];
        if (n.op == "Constant") continue;
        index[i] = int(out.nodes.size());
        GraphNode node{n.name, n.op, {}, false};
        if (!n.layer.empty()) node.weighted.push_back(n.layer);
        out.nodes.push_back(std::move(node));
    }
    std::set<std::pair<int, int>> seen;
    for (size_t i = 0; i < g.nodes().size(); ++i) {
        if (index[i] < 0) continue;
        for (const auto& input : g.nodes()[i].inputs) {
            int from = input.empty() ? -1 : g.producer(input);
            if (from < 0 || index[size_t(from)] < 0) continue;
            std::pair<int, int> e{index[size_t(from)], index[i]};
            if (seen.insert(e).second) out.edges.push_back({e.first, e.second});
        }
    }
    return out;
}

}  // namespace cle::core::onnxfmt
