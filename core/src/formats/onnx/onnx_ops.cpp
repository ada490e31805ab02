#include "formats/onnx/onnx_ops.h"

#include <onnx/onnx_pb.h>

#include <cmath>
#include <set>

namespace cle::core::onnxfmt {

namespace {
std::string quote(const std::string& s) { return "'" + s + "'"; }
}  // namespace

std::optional<std::vector<double>> constantInput(const Graph& g, const Node& n, size_t k) {
    if (k >= n.inputs.size() || n.inputs[k].empty()) return std::nullopt;
    const onnx::TensorProto* t = g.file().tensor(n.inputs[k]);
    if (!t || g.file().storageProblem(*t)) return std::nullopt;
    return g.file().numbers(*t);
}

std::optional<std::pair<double, double>> clipBounds(const Graph& g, const Node& n) {
    double lo = -INFINITY, hi = INFINITY;
    if (g.opset() < 11) {
        lo = attrFloat(*n.proto, "min", -INFINITY);
        hi = attrFloat(*n.proto, "max", INFINITY);
        return std::pair{lo, hi};
    }
    for (size_t k : {size_t(1), size_t(2)}) {
        if (k >= n.inputs.size() || n.inputs[k].empty()) continue;
        auto v = constantInput(g, n, k);
        if (!v || v->size() != 1) return std::nullopt;
        (k == 1 ? lo : hi) = v->front();
    }
    return std::pair{lo, hi};
}

std::optional<PadSpec> padSpec(const Graph& g, const Node& n) {
    PadSpec p;
    p.mode = attrString(*n.proto, "mode", "constant");
    if (g.opset() < 11) {
        auto pads = attrInts(*n.proto, "pads");
        if (!pads) pads = attrInts(*n.proto, "paddings");
        if (!pads) return std::nullopt;
        p.pads = *pads;
        p.value = attrFloat(*n.proto, "value", 0.f);
        return p;
    }
    if (n.inputs.size() > 3 && !n.inputs[3].empty()) return std::nullopt;  // axes
    auto pads = constantInput(g, n, 1);
    if (!pads) return std::nullopt;
    for (double v : *pads) {
        if (!(std::fabs(v) < 1e9)) return std::nullopt;  // no real padding is that large
        p.pads.push_back(std::int64_t(v));
    }
    if (n.inputs.size() > 2 && !n.inputs[2].empty()) {
        auto value = constantInput(g, n, 2);
        if (!value || value->size() != 1) return std::nullopt;
        p.value = value->front();
    }
    return p;
}

Step classify(const Graph& g, const Node& n, std::string& reason) {
    const std::string& op = n.op;
    static const std::set<std::string> passing = {"Relu",        "LeakyRelu", "PRelu",  "MaxPool",
                                                  "AveragePool", "Identity",  "Dropout"};
    if (passing.count(op)) return Step::Pass;
    if (op == "BatchNormalization") return Step::BatchNorm;
    if (op == "GlobalAveragePool") return Step::GlobalPool;
    if (op == "Clip") {
        auto bounds = clipBounds(g, n);
        if (bounds && bounds->first == 0 && std::isinf(bounds->second) && bounds->second > 0)
            return Step::Pass;  // a ReLU
        if (bounds && bounds->first == 0 && std::isfinite(bounds->second) && bounds->second > 0)
            return Step::Relu6;
        reason = "Clip " + quote(n.name) +
                 (bounds ? " (min " + std::to_string(bounds->first) + ", max " +
                               std::to_string(bounds->second) + ")"
                         : std::string(" with bounds computed in the graph")) +
                 " is not positively homogeneous";
        return Step::Reject;
    }
    if (op == "Pad") {
        auto spec = padSpec(g, n);
        const size_t rank = spec ? spec->pads.size() / 2 : 0;
        bool channels =
            spec && rank >= 2 &&
            (spec->pads[0] || spec->pads[1] || spec->pads[rank] || spec->pads[rank + 1]);
        if (spec && spec->mode == "constant" && spec->value == 0 && !channels) return Step::Pass;
        reason = "Pad " + quote(n.name) +
                 " is not a zero padding of the spatial axes, so it is not positively homogeneous";
        return Step::Reject;
    }
    if (op == "Flatten" || op == "Reshape" || op == "Transpose" || op == "Squeeze" ||
        op == "Unsqueeze") {
        reason = op + " " + quote(n.name) + " between them mixes the channel axis with other axes";
        return Step::Reject;
    }
    static const std::set<std::string> curved = {
        "Sigmoid",   "Tanh",     "Elu",      "Selu", "Softmax", "LogSoftmax", "HardSigmoid",
        "HardSwish", "Softplus", "Softsign", "Exp",  "Gelu",    "Mish",       "ThresholdedRelu",
        "Celu"};
    if (curved.count(op)) {
        reason = op + " " + quote(n.name) + " is not positively homogeneous";
        return Step::Reject;
    }
    reason =
        quote(n.name) + " is a layer of kind " + quote(op) + " that the pair finder does not know";
    return Step::Reject;
}

}  // namespace cle::core::onnxfmt
