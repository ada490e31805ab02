#include "formats/onnx/onnx_graph.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <set>
#include <tuple>
#include <unordered_set>

#include "cle/core/error.h"
#include "formats/formats.h"

namespace cle::core::onnxfmt {

namespace {

const onnx::AttributeProto* attribute(const onnx::NodeProto& n, const std::string& name) {
    for (const auto& a : n.attribute())
        if (a.name() == name) return &a;
    return nullptr;
}

std::string quote(const std::string& s) { return "'" + s + "'"; }

// External tensors whose bytes overlap another's in the same data file, each with the other's
// name: rewriting one would rewrite the other.
std::map<std::string, std::string> overlappingExternalData(const OnnxFile& file) {
    struct Range {
        std::string file;
        std::int64_t begin, end;
        std::string name;
    };
    std::vector<Range> ranges;
    for (const auto& t : file.model().graph().initializer()) {
        if (t.data_location() != onnx::TensorProto::EXTERNAL) continue;
        try {
            std::int64_t bytes = elementSize(t.data_type());
            for (auto d : file.dims(t)) bytes *= d;
            auto [offset, length] = file.externalRange(t);
            if (length >= 0) bytes = length;
            ranges.push_back({file.externalPath(t), offset, offset + bytes, t.name()});
        } catch (const Error&) {
            // unreadable: the layer says why when it is listed
        }
    }
    std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) {
        return std::tie(a.file, a.begin) < std::tie(b.file, b.begin);
    });
    std::map<std::string, std::string> out;
    for (size_t i = 1, widest = 0; i < ranges.size(); ++i) {
        const Range& r = ranges[i];
        if (r.file != ranges[widest].file) {
            widest = i;
            continue;
        }
        const Range& w = ranges[widest];
        if (r.begin < w.end && r.end > r.begin && w.end > w.begin) {
            out.emplace(r.name, w.name);
            out.emplace(w.name, r.name);
        }
        if (r.end > w.end) widest = i;
    }
    return out;
}

}  // namespace

long attrInt(const onnx::NodeProto& n, const std::string& name, long fallback) {
    const auto* a = attribute(n, name);
    return a && a->type() == onnx::AttributeProto::INT ? long(a->i()) : fallback;
}

float attrFloat(const onnx::NodeProto& n, const std::string& name, float fallback) {
    const auto* a = attribute(n, name);
    return a && a->type() == onnx::AttributeProto::FLOAT ? a->f() : fallback;
}

std::string attrString(const onnx::NodeProto& n, const std::string& name,
                       const std::string& fallback) {
    const auto* a = attribute(n, name);
    return a && a->type() == onnx::AttributeProto::STRING ? a->s() : fallback;
}

std::optional<std::vector<std::int64_t>> attrInts(const onnx::NodeProto& n,
                                                  const std::string& name) {
    const auto* a = attribute(n, name);
    if (!a || a->type() != onnx::AttributeProto::INTS) return std::nullopt;
    return std::vector<std::int64_t>(a->ints().begin(), a->ints().end());
}

bool hasAttr(const onnx::NodeProto& n, const std::string& name) {
    return attribute(n, name) != nullptr;
}

Graph::Graph(const OnnxFile& file) : file_(file) {
    const auto& model = file.model();
    for (const auto& o : model.opset_import())
        if (o.domain().empty() || o.domain() == "ai.onnx") opset_ = long(o.version());
    const auto& g = model.graph();
    for (const auto& o : g.output()) outputs_.emplace(o.name(), 0);
    nodes_.reserve(size_t(g.node_size()));
    for (const auto& p : g.node()) {
        Node n;
        n.proto = &p;
        n.op = p.domain().empty() || p.domain() == "ai.onnx" ? p.op_type()
                                                             : p.domain() + ":" + p.op_type();
        n.inputs.assign(p.input().begin(), p.input().end());
        n.outputs.assign(p.output().begin(), p.output().end());
        n.name = !p.name().empty()    ? p.name()
                 : !n.outputs.empty() ? n.outputs.front()
                                      : n.op + "_" + std::to_string(nodes_.size());
        if (byName_.count(n.name)) n.name += "#" + std::to_string(nodes_.size());
        const int index = int(nodes_.size());
        byName_.emplace(n.name, index);
        for (const auto& o : n.outputs)
            if (!o.empty()) producer_.emplace(o, index);
        for (const auto& i : n.inputs)
            if (!i.empty()) consumers_[i].push_back(index);
        nodes_.push_back(std::move(n));
    }
    checkOrder();
    for (int i = 0; i < int(nodes_.size()); ++i) addLayer(i);
    markSharedStorage();
}

// A layer whose weight or bias is read or stored elsewhere as well cannot be rewritten.
void Graph::markSharedStorage() {
    // One tensor serving two layers (or a layer's weight and another's bias) is shared storage.
    std::map<std::string, std::vector<LayerInfo*>> users;
    for (auto& l : layers_) {
        users[l.weightPath].push_back(&l);
        if (l.hasBias()) users[l.biasPath].push_back(&l);
    }
    const auto overlapping = overlappingExternalData(file_);
    for (auto& l : layers_) {
        for (const std::string* t : {&l.weightPath, &l.biasPath}) {
            auto it = overlapping.find(*t);
            if (t->empty() || !l.supported || it == overlapping.end()) continue;
            l.supported = false;
            l.unsupportedReason = "its weights or bias are tensor " + quote(*t) +
                                  ", whose "
                                  "external data shares bytes with tensor " +
                                  quote(it->second) + " (shared storage)";
        }
    }
    for (auto& l : layers_) {  // a weight or bias that another node reads too
        for (const std::string* t : {&l.weightPath, &l.biasPath}) {
            if (t->empty() || !l.supported) continue;
            // A MatMul's bias is read by the Add that follows it.
            auto bias = biasNode_.find(l.name);
            const int reader =
                t == &l.biasPath && bias != biasNode_.end() ? bias->second : layerNode_.at(l.name);
            const std::string other = otherReader(*t, reader);
            if (other.empty()) continue;
            l.supported = false;
            l.unsupportedReason =
                "its weights or bias are tensor " + quote(*t) + ", which " +
                (other == "a model output" ? "is also a model output" : other + " reads too") +
                " (shared storage)";
        }
    }
    for (auto& [tensor, list] : users) {
        if (list.size() < 2) continue;
        for (LayerInfo* l : list) {
            if (!l->supported) continue;
            l->supported = false;
            l->unsupportedReason = "its weights or bias are tensor " + quote(tensor) +
                                   ", which another layer uses too (shared storage)";
        }
    }
}

// ONNX requires every node's inputs to exist before it: graph inputs, initializers or the outputs
// of earlier nodes. A graph that breaks this (a cycle, a missing tensor) is refused as a whole.
void Graph::checkOrder() const {
    const auto& g = file_.model().graph();
    std::unordered_set<std::string> known;
    for (const auto& v : g.input()) known.insert(v.name());
    for (const auto& t : g.initializer()) known.insert(t.name());
    for (const auto& t : g.sparse_initializer()) known.insert(t.values().name());
    for (const Node& n : nodes_) {
        for (const auto& i : n.inputs) {
            if (i.empty() || known.count(i)) continue;
            const std::string why = producer(i) >= 0
                                        ? "which only a later node computes (the nodes are out of "
                                          "order or form a cycle)"
                                        : "which no node, graph input or initializer provides";
            throw inputError("'" + file_.path() + "' is not a valid ONNX graph: node " +
                             quote(n.name) + " (" + n.op + ") reads " + quote(i) + ", " + why);
        }
        for (const auto& o : n.outputs) known.insert(o);
    }
}

std::string Graph::otherReader(const std::string& tensor, int node) const {
    if (isGraphOutput(tensor)) return "a model output";
    for (int c : consumers(tensor))
        if (c != node) return "node " + quote(nodes_[size_t(c)].name);
    return "";
}

int Graph::producer(const std::string& tensor) const {
    auto it = producer_.find(tensor);
    return it == producer_.end() ? -1 : it->second;
}

const std::vector<int>& Graph::consumers(const std::string& tensor) const {
    static const std::vector<int> none;
    auto it = consumers_.find(tensor);
    return it == consumers_.end() ? none : it->second;
}

int Graph::nodeOfLayer(const std::string& name) const {
    auto it = layerNode_.find(name);
    return it == layerNode_.end() ? -1 : it->second;
}

int Graph::find(const std::string& name) const {
    auto it = byName_.find(name);
    return it == byName_.end() ? -1 : it->second;
}

std::optional<std::string> Graph::outputProblem(const std::string& name) const {
    auto it = outputProblems_.find(name);
    if (it == outputProblems_.end()) return std::nullopt;
    return it->second;
}

// PyTorch (inputs of rank 3 or more) and tf2onnx write a dense layer as MatMul followed by an Add
// of its bias: a stored tensor of one value per output channel, broadcast along the last axis.
void Graph::addMatMulBias(int index, LayerInfo& l) {
    const Node& n = nodes_[size_t(index)];
    if (l.shape.size() != 2 || n.outputs.empty() || isGraphOutput(n.outputs[0]) ||
        consumers(n.outputs[0]).size() != 1)
        return;
    const int a = consumers(n.outputs[0]).front();
    Node& add = nodes_[size_t(a)];
    if (add.op != "Add" || add.inputs.size() != 2) return;
    const std::string& b = add.inputs[0] == n.outputs[0] ? add.inputs[1] : add.inputs[0];
    const onnx::TensorProto* t = file_.tensor(b);
    if (const int p = producer(b); !t && p >= 0 && nodes_[size_t(p)].op == "Constant")
        outputProblems_[l.name] = "Add " + quote(add.name) + " adds the output of Constant node " +
                                  quote(nodes_[size_t(p)].name) +
                                  ", which holds no tensor (value_float or value_floats) that "
                                  "could be scaled as its bias";
    if (!t) return;  // two computed tensors: a residual join, not a bias
    const std::int64_t out = l.shape[1];
    std::vector<std::int64_t> dims;
    try {
        dims = file_.dims(*t);
    } catch (const Error&) {
    }
    const bool perChannel =
        !dims.empty() && dims.back() == out &&
        std::all_of(dims.begin(), dims.end() - 1, [](std::int64_t d) { return d == 1; });
    std::string shape;
    for (auto d : dims) shape += (shape.empty() ? "" : ", ") + std::to_string(d);
    const std::string what = "Add " + quote(add.name) + " adds tensor " + quote(b);
    std::string problem;
    // Before opset 7 an Add with `broadcast` set aligns its second input at `axis`, not at the end.
    if (opset_ < 7 && attrInt(*add.proto, "broadcast", 0) && hasAttr(*add.proto, "axis"))
        problem = what + " along axis " + std::to_string(attrInt(*add.proto, "axis", 0)) +
                  " (the broadcast of opsets before 7), not along the output channels";
    else if (!perChannel)
        problem = what + " of shape [" + shape + "] to its output, not one value per output " +
                  "channel (a bias of shape [" + std::to_string(out) + "])";
    else if (!OnnxFile::floatType(*t) || file_.storageProblem(*t))
        problem = what + ", which is not a vector of floating-point numbers stored in the file";
    else if (auto other = otherReader(b, a); !other.empty())
        problem = what + " as its bias, but " +
                  (other == "a model output" ? "it is also a model output"
                                             : other + " reads that tensor too") +
                  " (shared storage): scaling the bias would change it there as well";
    if (!problem.empty()) {
        outputProblems_[l.name] = problem;
        return;
    }
    l.biasPath = b;
    l.biasDtype = *OnnxFile::floatType(*t);
    l.biasSize = out;
    add.biasOf = l.name;
    biasNode_[l.name] = a;
}

// A node with a weight tensor stored in the file becomes a listed layer.
void Graph::addLayer(int index) {
    Node& n = nodes_[size_t(index)];
    const onnx::NodeProto& p = *n.proto;
    static const std::set<std::string> kinds = {"Conv", "Gemm", "MatMul", "ConvTranspose"};
    if (!kinds.count(n.op) || n.inputs.size() < 2) return;
    const onnx::TensorProto* w = file_.tensor(n.inputs[1]);
    if (!w) return;  // weights computed in the graph: not a layer of the file
    LayerInfo l;
    l.name = !p.name().empty() ? p.name() : n.inputs[1];
    if (p.name().empty() && l.name.size() > 7 && l.name.ends_with(".weight"))
        l.name.resize(l.name.size() - 7);  // PyTorch: the state dict's layer name
    while (layerNode_.count(l.name)) l.name += "#" + std::to_string(index);
    l.kind = n.op;
    l.layout = Layout::Torch;
    l.weightPath = n.inputs[1];
    auto refuse = [&](const std::string& why) {
        if (!l.supported) return;
        l.supported = false;
        l.unsupportedReason = why;
    };
    try {
        l.shape = file_.dims(*w);
    } catch (const Error&) {
        refuse("its weights have impossible dimensions");
    }
    if (auto type = OnnxFile::floatType(*w))
        l.dtype = *type;
    else
        refuse("its weights are not floating-point numbers");
    if (auto problem = file_.storageProblem(*w)) refuse("its weights cannot be read: " + *problem);
    const std::string biasName = n.op == "Gemm"     ? (n.inputs.size() > 2 ? n.inputs[2] : "")
                                 : n.op == "MatMul" ? ""
                                                    : (n.inputs.size() > 2 ? n.inputs[2] : "");
    if (!biasName.empty()) {
        const onnx::TensorProto* b = file_.tensor(biasName);
        if (b && OnnxFile::floatType(*b) && b->dims_size() == 1 && !file_.storageProblem(*b)) {
            l.biasPath = biasName;
            l.biasDtype = *OnnxFile::floatType(*b);
            l.biasSize = b->dims(0);
        } else {
            refuse("its bias (" + biasName +
                   ") is not a vector of floating-point numbers stored "
                   "in the file");
        }
    }
    if (n.op == "ConvTranspose") refuse("transposed convolution");
    if (n.op == "Gemm") {
        if (attrInt(p, "transA", 0) != 0) refuse("Gemm with transA is not supported");
        // Folded batch norms and absorbed biases are written as plain weights and bias: a
        // scaled product (alpha) or bias (beta) would scale them again.
        const bool scaledBias = !biasName.empty() && attrFloat(p, "beta", 1.f) != 1.f;
        if (attrFloat(p, "alpha", 1.f) != 1.f || scaledBias)
            refuse("Gemm with alpha or beta other than 1 is not supported");
        if (attrInt(p, "transB", 0) == 0) l.layout = Layout::Keras;  // [in, out]
    }
    if (n.op == "MatMul") {
        l.layout = Layout::Keras;  // x [.., in] times W [in, out]
        if (l.shape.size() != 2) refuse("MatMul with a weight of rank other than 2");
        addMatMulBias(index, l);
    }
    if (n.op == "Conv" && l.shape.size() >= 3) {
        const long groups = attrInt(p, "group", 1);
        if (groups > 1 && l.shape[1] == 1 && l.shape[0] == groups) {
            l.depthwise = true;
        } else if (groups > 1 && l.shape[1] == 1 && l.shape[0] % groups == 0) {
            refuse("depth multiplier " + std::to_string(l.shape[0] / groups) +
                   " (only 1 can be equalized)");
        } else if (groups > 1) {
            refuse("grouped convolution (groups=" + std::to_string(groups) + ")");
        }
    }
    formats::finishLayer(l, file_.path());
    n.layer = l.name;
    layerNode_.emplace(l.name, index);
    layers_.push_back(std::move(l));
}

ModelInfo inspect(const std::string& path) {
    ModelInfo info;
    info.path = path;
    info.identity = fileIdentity(path);
    info.format = Format::Onnx;
    info.layout = Layout::Torch;
    auto file = OnnxFile::open(path);
    Graph graph(*file);
    info.layers = graph.layers();
    info.indexLayers();
    return info;
}

}  // namespace cle::core::onnxfmt
