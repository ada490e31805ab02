// From an ONNX node graph to the evaluator's program. Each runtime tensor is held per sample with
// its axes in a tracked order: convolutions, pooling and batch norms take the channels last (as
// the evaluator's kernels do), a Transpose only relabels the axes, and a Permute op is inserted
// where an op needs another order.
#include "eval/onnx_compile.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "cle/core/error.h"
#include "cle/core/model.h"
#include "eval/onnx_compiler.h"
#include "formats/onnx/onnx_ops.h"

namespace cle::core::eval {

namespace {

// The evaluator's activation for a one-input elementwise ONNX op at its default constants, ""
// for any other op (or other constants).
std::string elementwiseActivation(const Node& n) {
    static const std::map<std::string, std::string> plain = {{"HardSwish", "hard_swish"},
                                                             {"Softplus", "softplus"},
                                                             {"Softsign", "softsign"},
                                                             {"Mish", "mish"},
                                                             {"Exp", "exponential"}};
    if (auto it = plain.find(n.op); it != plain.end()) return it->second;
    auto at = [&](const char* name, float fallback) {
        return onnxfmt::attrFloat(*n.proto, name, fallback);
    };
    if (n.op == "Elu" && at("alpha", 1.f) == 1.f) return "elu";
    if (n.op == "HardSigmoid" && at("alpha", 0.2f) == 0.2f && at("beta", 0.5f) == 0.5f)
        return "hard_sigmoid";
    // PyTorch exports Hardsigmoid as HardSigmoid(alpha = 1/6, beta = 1/2).
    if (n.op == "HardSigmoid" && std::abs(at("alpha", 0.2f) - 1.f / 6) < 1e-7f &&
        at("beta", 0.5f) == 0.5f)
        return "hard_sigmoid_relu6";
    return "";
}

}  // namespace

const OnnxValue* OnnxCompiler::find(const std::string& name) {
    if (auto it = values_.find(name); it != values_.end()) return &it->second;
    const onnx::TensorProto* t = file_->tensor(name);
    if (!t) return nullptr;
    OnnxValue v;
    v.constant = true;
    v.dims = file_->dims(*t);
    v.numbers = file_->numbers(*t);
    return &(values_[name] = std::move(v));
}

const OnnxValue& OnnxCompiler::input(const Node& n, size_t k) {
    if (k >= n.inputs.size() || n.inputs[k].empty())
        fail(n, "input " + std::to_string(k) + " is missing");
    const OnnxValue* v = find(n.inputs[k]);
    if (!v) fail(n, "its input '" + n.inputs[k] + "' is computed by no node");
    return *v;
}

OnnxValue OnnxCompiler::emit(Op op, const std::vector<const OnnxValue*>& in, Order order) {
    // Padding and resizing are the ops that can grow a tensor beyond its input.
    if (!in.empty() && (op.kind == Kind::Pad || op.kind == Kind::UpSample)) {
        const auto& s = in[0]->shape;
        double grown = 1;
        for (auto d : s) grown *= double(d);
        if (op.kind == Kind::UpSample)
            grown *= double(op.dims[0]) * double(op.dims[1]);
        else if (s.size() >= 2)
            grown = double(s[0] + op.pad[0] + op.pad[1]) *
                    double(s[s.size() - 2] + op.pad[2] + op.pad[3]) * double(s.back());
        if (grown > double(kMaxSampleValues))
            throw inputError("node '" + op.name + "' of '" + path_ + "' would make a tensor of " +
                             "more than 2^26 values per sample");
    }
    std::vector<const Tensor*> samples;
    for (const auto* v : in) {
        op.in.push_back(v->slot);
        samples.push_back(&dry_[size_t(v->slot)]);
    }
    Tensor y = runOp(op, samples, false);
    op.out = p_.slots++;
    OnnxValue out;
    out.slot = op.out;
    out.shape = y.shape;
    out.order = std::move(order);
    if (out.order.size() != out.shape.size()) out.order = identityOrder(out.shape.size() + 1);
    dry_.push_back(std::move(y));
    p_.ops.push_back(std::move(op));
    return out;
}

OnnxValue OnnxCompiler::arrange(const OnnxValue& v, const Order& order, const Node& n) {
    if (v.constant) return materialise(v, order, n);
    if (v.order == order) return v;
    Op op;
    op.kind = Kind::Permute;
    op.name = n.name + "/arrange";
    op.cls = "Transpose";
    for (int axis : order) {
        auto at = std::find(v.order.begin(), v.order.end(), axis);
        if (at == v.order.end()) fail(n, "its input has another rank");
        op.dims.push_back(std::int64_t(at - v.order.begin()) + 1);
    }
    return emit(op, {&v}, order);
}

// A constant used as an activation: one sample (its batch axis of 1 dropped), in `order`.
OnnxValue OnnxCompiler::materialise(const OnnxValue& v, const Order& order, const Node& n) {
    if (v.dims.empty() || v.dims[0] != 1 || order.size() + 1 != v.dims.size())
        fail(n, "a constant of shape other than the activations' is not supported");
    if (p_.inputSlots.empty()) fail(n, "the model has no input");
    Op op;
    op.kind = Kind::Constant;
    op.name = n.name + "/constant";
    op.cls = "Constant";
    op.kernel.shape.assign(v.dims.begin() + 1, v.dims.end());
    op.kernel.values.assign(v.numbers.begin(), v.numbers.end());
    OnnxValue any;
    any.slot = p_.inputSlots.front();
    OnnxValue plain = emit(op, {&any}, identityOrder(v.dims.size()));
    return arrange(plain, order, n);
}

const Layer* OnnxCompiler::layer(const std::string& name) const {
    if (options_.layers)  // a run's result, evaluated in place of the model's layers
        for (const auto& changed : *options_.layers)
            if (changed.info.name == name) return &changed;
    return model_.find(name);
}

Tensor OnnxCompiler::weights(const Node& n, bool bias) const {
    const std::string& name = n.inputs.size() > (bias ? 2u : 1u) ? n.inputs[bias ? 2 : 1] : "";
    if (!n.layer.empty())
        if (const Layer* l = layer(n.layer); l && l->info.supported) {
            if (!bias) return l->weight;
            // Also a bias the layer had not: a batch norm folded into it gave it one.
            if (l->bias) return *l->bias;
        }
    if (name.empty()) return {};
    if (!file_->tensor(name)) fail(n, "its weights '" + name + "' are computed in the graph");
    return file_->read(name);
}

void OnnxCompiler::run() {
    const auto& graph = g_.file().model().graph();
    for (const auto& in : graph.input()) {
        if (file_->tensor(in.name())) continue;  // an initializer listed as an input
        NetworkInput ni{in.name(), {}};
        const auto& dims = in.type().tensor_type().shape().dim();
        for (int i = 1; i < dims.size(); ++i) {
            if (!dims.Get(i).has_dim_value() || dims.Get(i).dim_value() <= 0)
                throw inputError("input '" + in.name() + "' of '" + path_ +
                                 "' has a dimension of unknown size, so its network cannot be "
                                 "evaluated");
            ni.shape.push_back(dims.Get(i).dim_value());
            if (Tensor{ni.shape, {}}.size() > kMaxSampleValues)
                throw inputError("input '" + in.name() + "' of '" + path_ +
                                 "' claims more than 2^26 values per sample");
        }
        OnnxValue v;
        v.slot = p_.slots++;
        v.shape = ni.shape;
        v.order = identityOrder(ni.shape.size() + 1);
        dry_.push_back(
            Tensor{ni.shape, std::vector<float>(size_t(Tensor{ni.shape, {}}.size()), 0.f)});
        p_.inputs.push_back(ni);
        p_.inputSlots.push_back(v.slot);
        values_[in.name()] = v;
    }
    if (p_.inputs.empty()) throw inputError("'" + path_ + "' has no input to evaluate");
    for (const auto& n : g_.nodes()) node(n);
    for (const auto& out : graph.output()) {
        const OnnxValue* v = find(out.name());
        if (!v || v->constant)
            throw inputError("output '" + out.name() + "' of '" + path_ +
                             "' is not computed from the inputs");
        Node n;
        n.name = out.name();
        n.op = "output";
        p_.outputSlots.push_back(arrange(*v, identityOrder(v->order.size() + 1), n).slot);
    }
}

void OnnxCompiler::node(const Node& n) {
    if (n.op == "Constant") return;                         // read from the file where used
    if (n.outputs.empty() || n.outputs[0].empty()) return;  // computes nothing that is read
    std::vector<const OnnxValue*> in;
    for (const auto& name : n.inputs) in.push_back(name.empty() ? nullptr : find(name));
    if (auto folded = foldConstant(g_, n, in)) {
        values_[n.outputs.at(0)] = std::move(*folded);
        return;
    }
    OnnxValue out;
    const std::string& op = n.op;
    if (op == "Conv")
        out = conv(n);
    else if (op == "Gemm" || op == "MatMul")
        out = dense(n);
    else if (op == "BatchNormalization")
        out = batchNorm(n);
    else if (op == "MaxPool" || op == "AveragePool" || op == "GlobalAveragePool" ||
             op == "GlobalMaxPool")
        out = pool(n);
    else if (op == "Pad")
        out = padding(n);
    else if (op == "Add" || op == "Sub" || op == "Mul" || op == "Max" || op == "Min" || op == "Sum")
        out = merge(n);
    else if (op == "Concat")
        out = concat(n);
    else if (op == "Resize" || op == "Upsample")
        out = resize(n);
    else if (op == "Transpose") {
        const OnnxValue& x = input(n, 0);
        if (x.constant) fail(n, "a Transpose of a constant is not supported");
        auto perm = attrInts(*n.proto, "perm");
        Order inverse(x.order.size() + 1);
        if (!perm || perm->size() != inverse.size() || (*perm)[0] != 0)
            fail(n, "only transposes that keep the batch axis first are supported");
        for (size_t j = 0; j < perm->size(); ++j) {
            if ((*perm)[j] < 0 || (*perm)[j] >= std::int64_t(inverse.size())) fail(n, "bad perm");
            inverse[size_t((*perm)[j])] = int(j);
        }
        out = x;
        for (auto& a : out.order) a = inverse[size_t(a)];
    } else if (op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze") {
        out = reshape(n, {});
    } else if (!simple(n, input(n, 0), out)) {
        fail(n, "the evaluator does not support op '" + op + "'");
    }
    values_[n.outputs.at(0)] = std::move(out);
}

// Ops that keep the order of their input's axes.
bool OnnxCompiler::simple(const Node& n, const OnnxValue& x0, OnnxValue& out) {
    const std::string& op = n.op;
    if (x0.constant) fail(n, "it computes on constants only");
    const OnnxValue x = x0;
    Op o;
    o.name = n.name;
    o.cls = op;
    if (op == "Identity" || op == "Dropout") {
        out = x;
        return true;
    }
    if (op == "Relu" || op == "LeakyRelu") {
        o.kind = Kind::Relu;
        o.slope = op == "LeakyRelu" ? onnxfmt::attrFloat(*n.proto, "alpha", 0.01f) : 0.0;
    } else if (op == "Clip") {
        auto bounds = onnxfmt::clipBounds(g_, n);
        if (!bounds) fail(n, "its bounds are computed in the graph");
        if (bounds->first == -INFINITY && bounds->second == INFINITY) {
            out = x;
            return true;
        }
        if (bounds->first != 0) fail(n, "only Clip with min 0 is supported");
        o.kind = Kind::Relu;
        o.maxValue = std::isfinite(bounds->second) && !relaxed(n) ? bounds->second : -1;
    } else if (op == "PRelu") {
        o.kind = Kind::PRelu;
        const OnnxValue& slope = input(n, 1);
        if (!slope.constant) fail(n, "its slope is computed in the graph");
        o.scale.assign(slope.numbers.begin(), slope.numbers.end());
        if (o.scale.empty()) fail(n, "its slope is empty");
        const bool perChannel = o.scale.size() > 1;
        OnnxValue y =
            perChannel && x.order.size() > 1 ? arrange(x, channelsLast(x.order.size() + 1), n) : x;
        out = emit(o, {&y}, y.order);
        return true;
    } else if (op == "Sigmoid" || op == "Tanh") {
        o.kind = Kind::Activation;
        o.activation = op == "Sigmoid" ? "sigmoid" : "tanh";
    } else if (auto fn = elementwiseActivation(n); !fn.empty()) {
        o.kind = Kind::Activation;
        o.activation = fn;
    } else if (op == "Softmax") {
        const long rank = long(x.order.size()) + 1;
        long axis = attrInt(*n.proto, "axis", g_.opset() < 13 ? 1 : -1);
        if (axis < 0) axis += rank;
        if (axis != rank - 1) fail(n, "only a softmax over the last axis is supported");
        OnnxValue y = arrange(x, identityOrder(size_t(rank)), n);
        o.kind = Kind::Softmax;
        o.axis = -1;
        out = emit(o, {&y}, y.order);
        return true;
    } else {
        return false;
    }
    out = emit(o, {&x}, x.order);
    return true;
}

Program compileOnnx(const std::string& path, const Model& model, const NetworkOptions& options) {
    Program p;
    OnnxCompiler(path, model, options, p).run();
    return p;
}

}  // namespace cle::core::eval
