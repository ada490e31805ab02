// An ONNX node graph as keras::Node values for the region finder: one node per ONNX node (Constant
// nodes left out), one per graph input ("InputLayer"), and one per constant a Concat joins
// (kZeroConstant or kConstant). Inputs and consumers name nodes; stored tensors are not inputs.
#include "graph/onnx_regions.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <map>
#include <set>

#include "formats/onnx/onnx_graph.h"
#include "formats/onnx/onnx_ops.h"
#include "formats/onnx/onnx_pairs.h"
#include "graph/regions.h"

namespace cle::core::detail {

namespace {

using onnxfmt::Graph;
using OnnxNode = onnxfmt::Node;

std::string quote(const std::string& s) { return "'" + s + "'"; }

class OnnxRegions {
public:
    OnnxRegions(const ModelInfo& info, const Graph& g) : info_(info), g_(g) { build(); }
    void run(Topology& t) const;

private:
    void build();
    std::string producerNode(const OnnxNode& reader, const std::string& tensor);
    std::optional<std::int64_t> zeroChannels(const std::string& tensor) const;
    const OnnxNode* onnx(const keras::Node& n) const {
        auto it = onnxIndex_.find(n.name);
        return it == onnxIndex_.end() ? nullptr : &g_.nodes()[size_t(it->second)];
    }
    const keras::Node* find(const std::string& name) const {
        auto it = index_.find(name);
        return it == index_.end() ? nullptr : &nodes_[it->second];
    }
    keras::Node& add(keras::Node n) {
        index_[n.name] = nodes_.size();
        nodes_.push_back(std::move(n));
        return nodes_.back();
    }
    std::vector<std::string> readers(const std::string& tensor) const {
        std::vector<std::string> out;
        for (int c : g_.consumers(tensor)) {
            const OnnxNode& r = g_.nodes()[size_t(c)];
            if (r.op != "Shape") out.push_back(r.name);  // the shape does not follow the values
        }
        return out;
    }
    RegionStep classify(const keras::Node& n, std::string& reason) const;

    const ModelInfo& info_;
    const Graph& g_;
    std::vector<keras::Node> nodes_;
    std::map<std::string, size_t> index_;
    std::map<std::string, int> onnxIndex_;
};

// The channels (axis 1) of a constant zero tensor, nullopt when `tensor` is not one.
std::optional<std::int64_t> OnnxRegions::zeroChannels(const std::string& tensor) const {
    const auto& file = g_.file();
    if (const onnx::TensorProto* t = file.tensor(tensor)) {
        if (file.storageProblem(*t) || t->dims_size() < 2) return std::nullopt;
        auto v = file.numbers(*t);
        if (std::any_of(v.begin(), v.end(), [](double x) { return x != 0; })) return std::nullopt;
        return t->dims(1);
    }
    const int p = g_.producer(tensor);
    if (p < 0) return std::nullopt;
    const OnnxNode& n = g_.nodes()[size_t(p)];
    if (n.op != "ConstantOfShape") return std::nullopt;
    for (const auto& a : n.proto->attribute())
        if (a.name() == "value" && a.has_t()) {
            if (file.storageProblem(a.t())) return std::nullopt;
            auto v = file.numbers(a.t());
            if (v.size() != 1 || v[0] != 0) return std::nullopt;
        }
    auto shape = onnxfmt::constantInput(g_, n, 0);
    if (!shape || shape->size() < 2) return std::nullopt;
    return std::int64_t((*shape)[1]);
}

// The name of the node that `tensor` (read by `reader`) comes from, "" for a stored tensor that is
// not a Concat's operand. Graph inputs and constants joined by a Concat get their own nodes.
std::string OnnxRegions::producerNode(const OnnxNode& reader, const std::string& tensor) {
    const int p = g_.producer(tensor);
    const bool stored = g_.file().tensor(tensor) != nullptr;
    if (p >= 0 && !stored) return g_.nodes()[size_t(p)].name;
    // A tensor's own node; named after the tensor unless a node of the graph has that name.
    const std::string own = onnxIndex_.count(tensor) ? "tensor " + tensor : tensor;
    if (!stored && p < 0) {  // a graph input
        if (!find(own)) add({own, "InputLayer", {}, {}, readers(tensor), 1, false, false, nullptr});
        return own;
    }
    if (reader.op != "Concat") return "";
    const std::string name = p >= 0 ? g_.nodes()[size_t(p)].name : own;
    if (!find(name)) {
        auto zeros = zeroChannels(tensor);
        keras::Node n{
            name,   zeros ? kZeroConstant : kConstant, {}, {}, {reader.name}, 1, false, false,
            nullptr};
        if (zeros) n.config["channels"] = *zeros;
        add(std::move(n));
    }
    return name;
}

void OnnxRegions::build() {
    nodes_.reserve(g_.nodes().size() * 2 + 16);  // pointers into nodes_ stay valid
    for (size_t i = 0; i < g_.nodes().size(); ++i) {
        const OnnxNode& o = g_.nodes()[i];
        if (o.op == "Constant") continue;
        keras::Node n{o.name, o.op, {}, {}, {}, 1, false, false, nullptr};
        for (const auto& t : o.outputs) {
            auto r = readers(t);
            n.consumers.insert(n.consumers.end(), r.begin(), r.end());
            n.output = n.output || g_.isGraphOutput(t);
        }
        if (o.op == "Concat") {
            n.cls = "Concatenate";
            n.config["axis"] = onnxfmt::attrInt(*o.proto, "axis", 1);
        } else if (o.op == "ConstantOfShape") {
            auto zeros = zeroChannels(o.outputs.front());
            n.cls = zeros ? kZeroConstant : kConstant;
            if (zeros) n.config["channels"] = *zeros;
        }
        onnxIndex_[o.name] = int(i);
        add(std::move(n));
    }
    for (size_t i = 0; i < g_.nodes().size(); ++i) {
        const OnnxNode& o = g_.nodes()[i];
        if (o.op == "Constant" || o.op == "ConstantOfShape") continue;
        std::vector<std::string> inputs;
        for (const auto& t : o.inputs)
            if (!t.empty())
                if (auto p = producerNode(o, t); !p.empty()) inputs.push_back(p);
        keras::Node& n = nodes_[index_.at(o.name)];
        n.inputs = std::move(inputs);
        // An Add of a stored tensor adds a constant: it does not commute with a scale.
        if (n.cls == "Add" && n.inputs.size() < 2) n.cls = "Add (constant)";
    }
}

RegionStep OnnxRegions::classify(const keras::Node& n, std::string& reason) const {
    const OnnxNode* o = onnx(n);
    if (n.cls == kConstant || !o) {
        reason = "the constant " + quote(n.name) +
                 " joins the region, and a per-channel scale "
                 "would not scale it";
        return RegionStep::Reject;
    }
    if (!o->biasOf.empty()) return RegionStep::Pass;  // a MatMul source's bias, scaled with it
    static const std::set<std::string> combining = {"Add", "Sub",  "Mul", "Div", "Max",
                                                    "Min", "Mean", "Sum", "Pow"};
    if (combining.count(o->op)) {
        reason = quote(n.name) + " (" + o->op +
                 ") combines the region with a constant, which "
                 "does not commute with a per-channel scale";
        return RegionStep::Reject;
    }
    switch (onnxfmt::classify(g_, *o, reason)) {
        case onnxfmt::Step::Reject:
            return RegionStep::Reject;
        case onnxfmt::Step::Relu6:
            return RegionStep::Relu6;
        case onnxfmt::Step::BatchNorm:
            return RegionStep::BatchNorm;
        default:
            return RegionStep::Pass;  // global pooling commutes with a channel scale
    }
}

void OnnxRegions::run(Topology& t) const {
    RegionContext c{info_, nodes_, {}, {}, {}, {}, {}, {}, {}, {}, {}};
    c.find = [this](const std::string& name) { return find(name); };
    c.terminal = [this](const keras::Node& n) {
        const OnnxNode* o = onnx(n);
        return o && onnxfmt::weightedOp(o->op);
    };
    c.firstLayer = c.lastLayer = [this](const keras::Node& n) {
        const OnnxNode* o = onnx(n);
        return o && !o->layer.empty() ? o->layer : n.name;
    };
    // A depthwise sink scales its kernel's channel c by channel c's factor (its bias stays).
    c.layerProblem = [this](const keras::Node& n, bool asSource) -> std::optional<std::string> {
        const OnnxNode* o = onnx(n);
        if (auto p = onnxfmt::layerNodeProblem(info_, *o)) return p;
        const LayerInfo* l = info_.find(o->layer);
        if (!l) return quote(o->layer) + " is not a layer with weights in the file";
        if (auto p = asSource ? g_.outputProblem(o->layer) : std::nullopt)
            return "layer " + quote(o->layer) + " cannot be a source: " + *p;
        return std::nullopt;
    };
    c.classify = [this](const keras::Node& n, std::string& reason) { return classify(n, reason); };
    c.foldBatchNorm = [this](const keras::Node& layer, const keras::Node& bn,
                             std::string* problem) {
        return onnxfmt::foldableBatchNorm(info_, g_, *onnx(layer), *onnx(bn), problem);
    };
    c.activation = [](const keras::Node&) { return std::string("linear"); };
    c.concatProblem = [](const keras::Node& concat,
                         const LayerInfo* source) -> std::optional<std::string> {
        long axis = keras::configInt(concat, "axis", 1);
        if (axis < 0 && source) axis += source->rank();
        if (axis == 1) return std::nullopt;
        return "Concat " + quote(concat.name) + " joins along axis " +
               std::to_string(keras::configInt(concat, "axis", 1)) + ", not the channel axis";
    };
    findRegions(c, t);
}

}  // namespace

void findOnnxRegions(const ModelInfo& info, const onnxfmt::Graph& graph, Topology& topology) {
    OnnxRegions(info, graph).run(topology);
}

}  // namespace cle::core::detail
