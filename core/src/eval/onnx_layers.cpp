// The ONNX ops that need a layout or parameters: convolutions, Gemm / MatMul, batch norms,
// pooling, padding, merges, concatenation, reshapes and nearest resizing.
#include <onnx/onnx_pb.h>

#include <cmath>

#include "eval/onnx_compiler.h"
#include "formats/onnx/onnx_ops.h"

namespace cle::core::eval {

namespace {

// The spatial pads [top, bottom, left, right] of ONNX pads [begin..., end...] over `spatial` axes.
std::array<long, 4> spatialPads(const std::vector<std::int64_t>& pads, size_t spatial) {
    if (spatial == 1) return {0, 0, long(pads[0]), long(pads[1])};
    return {long(pads[0]), long(pads[2]), long(pads[1]), long(pads[3])};
}

// [O, I/g, kh, kw] -> [kh, kw, I/g, O]; depthwise (`multiplier` > 0): [kh, kw, C, multiplier],
// where output o = c * multiplier + j reads input channel c.
std::vector<float> channelsLastKernel(const Tensor& w, long kh, long kw, long multiplier) {
    const long cout = long(w.shape[0]), cinG = long(w.shape[1]);
    std::vector<float> out(w.values.size());
    for (long o = 0; o < cout; ++o)
        for (long i = 0; i < cinG; ++i)
            for (long a = 0; a < kh; ++a)
                for (long b = 0; b < kw; ++b) {
                    const long cin = multiplier ? cout / multiplier : 0;
                    const long to =
                        multiplier
                            ? ((a * kw + b) * cin + o / multiplier) * multiplier + o % multiplier
                            : ((a * kw + b) * cinG + i) * cout + o;
                    out[size_t(to)] = w.values[size_t(((o * cinG + i) * kh + a) * kw + b)];
                }
    return out;
}

}  // namespace

OnnxValue OnnxCompiler::conv(const Node& n) {
    const OnnxValue& x0 = input(n, 0);
    const size_t rank = x0.constant ? x0.dims.size() : x0.order.size() + 1;
    if (rank != 3 && rank != 4) fail(n, "only 1D and 2D convolutions are supported");
    OnnxValue x = arrange(x0, channelsLast(rank), n);
    const Tensor w = weights(n, false);
    if (w.rank() != int(rank)) fail(n, "its weights do not match its input's rank");
    const long groups = attrInt(*n.proto, "group", 1);
    const long cin = long(x.shape.back()), cout = long(w.shape[0]), cinG = long(w.shape[1]);
    const bool oneD = rank == 3;
    const long kh = oneD ? 1 : long(w.shape[2]), kw = long(w.shape[oneD ? 2 : 3]);
    Op op;
    op.name = n.name;
    op.cls = n.op;
    op.oneD = oneD;
    const bool dw = groups > 1 && groups == cin && cinG == 1 && cout % groups == 0;
    op.kind = dw ? Kind::Depthwise : Kind::Conv;
    op.groups = dw ? 1 : groups;
    op.multiplier = dw ? cout / groups : 1;
    op.kernel.shape = oneD ? std::vector<std::int64_t>{kw, cinG, cout}
                           : std::vector<std::int64_t>{kh, kw, cinG, cout};
    if (dw) op.kernel.shape = {kh, kw, cin, op.multiplier};
    if (oneD && dw) fail(n, "depthwise 1D convolutions are not supported");
    if (dw && cout != cin * op.multiplier) fail(n, "its weights do not match its input's channels");
    if (w.size() != std::int64_t(w.values.size())) fail(n, "its weights cannot be read");
    op.kernel.values = channelsLastKernel(w, kh, kw, dw ? op.multiplier : 0);
    op.window.kernel = {kh, kw};
    auto get = [&](const char* key, std::array<long, 2> fallback) {
        auto v = attrInts(*n.proto, key);
        if (!v) return fallback;
        if (v->size() != rank - 2) fail(n, std::string("its ") + key + " do not match its rank");
        return oneD ? std::array<long, 2>{1, long((*v)[0])}
                    : std::array<long, 2>{long((*v)[0]), long((*v)[1])};
    };
    op.window.stride = get("strides", {1, 1});
    op.window.dilation = get("dilations", {1, 1});
    const std::string autoPad = attrString(*n.proto, "auto_pad", "NOTSET");
    if (autoPad == "SAME_UPPER")
        op.window.padding = "same";
    else if (autoPad != "VALID" && autoPad != "NOTSET")
        fail(n, "auto_pad " + autoPad + " is not supported");
    if (auto pads = attrInts(*n.proto, "pads");
        pads && autoPad == "NOTSET" &&
        std::any_of(pads->begin(), pads->end(), [](std::int64_t v) { return v != 0; })) {
        if (pads->size() != 2 * (rank - 2)) fail(n, "its pads do not match its rank");
        Op pad;
        pad.kind = Kind::Pad;
        pad.name = n.name + "/pads";
        pad.cls = "Pad";
        pad.oneD = oneD;
        pad.pad = spatialPads(*pads, rank - 2);
        x = emit(pad, {&x}, x.order);
    }
    op.bias = weights(n, true).values;  // none, the node's, or the one a folded batch norm gave
    if (!op.bias.empty() && long(op.bias.size()) != cout)
        fail(n, "its bias is not one value per output");
    return emit(op, {&x}, x.order);
}

OnnxValue OnnxCompiler::dense(const Node& n) {
    const OnnxValue& x0 = input(n, 0);
    if (x0.constant) fail(n, "its data input is a constant");
    OnnxValue x = arrange(x0, identityOrder(x0.order.size() + 1), n);
    Tensor w = weights(n, false);
    if (w.rank() != 2) fail(n, "its weights are not a matrix");
    Op op;
    op.name = n.name;
    op.cls = n.op;
    op.kind = Kind::Dense;
    const bool gemm = n.op == "Gemm";
    if (gemm && attrInt(*n.proto, "transA", 0)) fail(n, "transA is not supported");
    const bool transB = gemm && attrInt(*n.proto, "transB", 0);
    const float alpha = gemm ? onnxfmt::attrFloat(*n.proto, "alpha", 1.f) : 1.f;
    const float beta = gemm ? onnxfmt::attrFloat(*n.proto, "beta", 1.f) : 1.f;
    const long k = long(w.shape[transB ? 1 : 0]), units = long(w.shape[transB ? 0 : 1]);
    op.kernel.shape = {k, units};
    op.kernel.values.resize(w.values.size());
    for (long i = 0; i < k; ++i)
        for (long j = 0; j < units; ++j)
            op.kernel.values[size_t(i * units + j)] =
                alpha * w.values[size_t(transB ? j * k + i : i * units + j)];
    // A MatMul's bias stored in the file is added by the Add after it (merge()).
    const Layer* l = n.layer.empty() ? nullptr : layer(n.layer);
    const bool biasAdded = n.op == "MatMul" && l && l->info.hasBias();
    if (Tensor b = biasAdded ? Tensor{} : weights(n, true); !b.values.empty()) {
        if (b.size() != units) fail(n, "its bias C is not one value per output");
        for (float v : b.values) op.bias.push_back(beta * v);
    }
    return emit(op, {&x}, x.order);
}

OnnxValue OnnxCompiler::batchNorm(const Node& n) {
    const OnnxValue& x0 = input(n, 0);
    const size_t rank = x0.constant ? x0.dims.size() : x0.order.size() + 1;
    OnnxValue x = arrange(x0, channelsLast(rank), n);
    Op op;
    op.name = n.name;
    op.cls = n.op;
    const auto& ids = options_.identityNorms;
    if (std::find(ids.begin(), ids.end(), n.name) != ids.end()) {
        op.kind = Kind::Identity;
        return emit(op, {&x}, x.order);
    }
    op.kind = Kind::BatchNorm;
    op.axis = -1;
    std::vector<std::vector<double>> params;
    for (size_t k = 1; k < 5; ++k) {
        const OnnxValue& v = input(n, k);
        if (!v.constant) fail(n, "its parameters are computed in the graph");
        params.push_back(v.numbers);
    }
    const double eps = onnxfmt::attrFloat(*n.proto, "epsilon", 1e-5f);
    if (x.shape.empty() || std::int64_t(params[0].size()) != x.shape.back())
        fail(n, "it has not one parameter per channel");
    for (size_t c = 0; c < params[0].size(); ++c) {
        if (params[1].size() != params[0].size() || params[2].size() != params[0].size() ||
            params[3].size() != params[0].size())
            fail(n, "its parameters have different sizes");
        const double s = params[0][c] / std::sqrt(params[3][c] + eps);
        op.scale.push_back(float(s));
        op.shift.push_back(float(params[1][c] - params[2][c] * s));
    }
    return emit(op, {&x}, x.order);
}

OnnxValue OnnxCompiler::pool(const Node& n) {
    const OnnxValue& x0 = input(n, 0);
    const size_t rank = x0.constant ? x0.dims.size() : x0.order.size() + 1;
    if (rank != 3 && rank != 4) fail(n, "only 1D and 2D pooling is supported");
    OnnxValue x = arrange(x0, channelsLast(rank), n);
    Op op;
    op.name = n.name;
    op.cls = n.op;
    op.oneD = rank == 3;
    if (n.op == "GlobalAveragePool" || n.op == "GlobalMaxPool") {
        op.kind = n.op == "GlobalMaxPool" ? Kind::GlobalMax : Kind::GlobalAvg;
        op.keepDims = true;
        return emit(op, {&x}, x.order);
    }
    op.kind = n.op == "MaxPool" ? Kind::MaxPool : Kind::AvgPool;
    auto kernel = attrInts(*n.proto, "kernel_shape");
    if (!kernel || kernel->size() != rank - 2) fail(n, "its kernel_shape is missing");
    auto strides = attrInts(*n.proto, "strides").value_or(std::vector<std::int64_t>(rank - 2, 1));
    if (strides.size() != rank - 2) fail(n, "its strides do not match its rank");
    op.window.kernel = op.oneD ? std::array<long, 2>{1, long((*kernel)[0])}
                               : std::array<long, 2>{long((*kernel)[0]), long((*kernel)[1])};
    op.window.stride = op.oneD ? std::array<long, 2>{1, long(strides[0])}
                               : std::array<long, 2>{long(strides[0]), long(strides[1])};
    const std::string autoPad = attrString(*n.proto, "auto_pad", "NOTSET");
    auto pads = attrInts(*n.proto, "pads").value_or(std::vector<std::int64_t>{});
    const bool padded = std::any_of(pads.begin(), pads.end(), [](std::int64_t v) { return v; });
    if (autoPad == "SAME_UPPER")
        op.window.padding = "same";
    else if ((autoPad != "NOTSET" && autoPad != "VALID") || (autoPad == "NOTSET" && padded))
        fail(n, "pooling with explicit pads is not supported");
    if (attrInt(*n.proto, "ceil_mode", 0)) fail(n, "ceil_mode is not supported");
    if (auto d = attrInts(*n.proto, "dilations"))
        if (std::any_of(d->begin(), d->end(), [](std::int64_t v) { return v != 1; }))
            fail(n, "dilated pooling is not supported");
    return emit(op, {&x}, x.order);
}

OnnxValue OnnxCompiler::padding(const Node& n) {
    const OnnxValue& x0 = input(n, 0);
    const size_t rank = x0.constant ? x0.dims.size() : x0.order.size() + 1;
    auto spec = onnxfmt::padSpec(g_, n);
    if (!spec || spec->mode != "constant" || spec->value != 0 || spec->pads.size() != 2 * rank)
        fail(n, "only zero padding with constant pads is supported");
    if ((rank != 3 && rank != 4) || spec->pads[0] || spec->pads[1] || spec->pads[rank] ||
        spec->pads[rank + 1])
        fail(n, "only padding of the spatial axes of 1D and 2D tensors is supported");
    std::vector<std::int64_t> spatial;
    for (size_t half = 0; half < 2; ++half)
        for (size_t a = 2; a < rank; ++a) spatial.push_back(spec->pads[half * rank + a]);
    OnnxValue x = arrange(x0, channelsLast(rank), n);
    Op op;
    op.kind = Kind::Pad;
    op.name = n.name;
    op.cls = n.op;
    op.oneD = rank == 3;
    op.pad = spatialPads(spatial, rank - 2);
    return emit(op, {&x}, x.order);
}

// The bias of the layer whose MatMul the Add `n` follows, in place of the stored `stored`: the
// run's result when it holds the layer.
std::vector<double> OnnxCompiler::biasOf(const Node& n, const OnnxValue& stored) const {
    const Layer* l = layer(n.biasOf);
    if (!l || !l->info.supported || !l->bias) return stored.numbers;
    if (l->bias->values.size() != stored.numbers.size())
        fail(n, "the bias of layer '" + n.biasOf + "' has " +
                    std::to_string(l->bias->values.size()) + " values, not " +
                    std::to_string(stored.numbers.size()));
    return std::vector<double>(l->bias->values.begin(), l->bias->values.end());
}

OnnxValue OnnxCompiler::merge(const Node& n) {
    std::vector<OnnxValue> args;
    const OnnxValue* first = nullptr;
    for (size_t k = 0; k < n.inputs.size(); ++k)
        if (!input(n, k).constant && !first) first = &input(n, k);
    if (!first) fail(n, "it computes on constants only");
    if (g_.opset() < 7 && attrInt(*n.proto, "broadcast", 0) && onnxfmt::hasAttr(*n.proto, "axis"))
        fail(n, "broadcasting along an axis (opsets before 7) is not supported");
    const Order order = first->order;
    const auto shape = onnxShape(*first);
    for (size_t k = 0; k < n.inputs.size(); ++k) {
        OnnxValue v = input(n, k);
        if (v.constant && !n.biasOf.empty()) v.numbers = biasOf(n, v);
        if (v.constant && v.dims.size() <= shape.size() && v.dims != shape) {
            // A broadcast constant: expanded to the activation's ONNX shape.
            std::vector<std::int64_t> dims = v.dims;
            while (dims.size() < shape.size()) dims.insert(dims.begin(), 1);
            for (size_t a = 0; a < shape.size(); ++a)
                if (dims[a] != 1 && dims[a] != shape[a]) fail(n, "a constant does not broadcast");
            std::vector<double> full(size_t(Tensor{shape, {}}.size()));
            std::vector<std::int64_t> index(shape.size(), 0);
            for (double& out : full) {
                std::int64_t src = 0;
                for (size_t a = 0; a < shape.size(); ++a)
                    src = src * dims[a] + (dims[a] == 1 ? 0 : index[a]);
                out = v.numbers.at(size_t(src));
                for (int a = int(shape.size()) - 1;
                     a >= 0 && ++index[size_t(a)] == shape[size_t(a)]; --a)
                    index[size_t(a)] = 0;
            }
            v.dims = shape;
            v.numbers = std::move(full);
        }
        args.push_back(arrange(v, order, n));
        if (onnxShape(args.back()) != onnxShape(*first))
            fail(n, "its inputs have different shapes (broadcasting is not supported)");
    }
    Op op;
    op.kind = Kind::Merge;
    op.name = n.name;
    op.cls = n.op;
    op.merge = n.op == "Add" || n.op == "Sum" ? "add"
               : n.op == "Sub"                ? "subtract"
               : n.op == "Mul"                ? "multiply"
               : n.op == "Max"                ? "maximum"
                                              : "minimum";
    std::vector<const OnnxValue*> in;
    for (const auto& a : args) in.push_back(&a);
    return emit(op, in, order);
}

OnnxValue OnnxCompiler::concat(const Node& n) {
    const OnnxValue* first = nullptr;
    for (size_t k = 0; k < n.inputs.size(); ++k)
        if (!input(n, k).constant && !first) first = &input(n, k);
    if (!first) fail(n, "it computes on constants only");
    const Order order = first->order;
    long axis = attrInt(*n.proto, "axis", 0);
    if (axis < 0) axis += long(order.size()) + 1;
    auto at = std::find(order.begin(), order.end(), int(axis));
    if (at == order.end()) fail(n, "concatenation along the batch axis is not supported");
    std::vector<OnnxValue> args;
    for (size_t k = 0; k < n.inputs.size(); ++k) args.push_back(arrange(input(n, k), order, n));
    Op op;
    op.kind = Kind::Concat;
    op.name = n.name;
    op.cls = n.op;
    op.axis = long(at - order.begin()) + 1;  // with the batch axis, as Keras counts
    std::vector<const OnnxValue*> in;
    for (const auto& a : args) in.push_back(&a);
    return emit(op, in, order);
}

OnnxValue OnnxCompiler::reshape(const Node& n, std::vector<std::int64_t> target) {
    const OnnxValue& x0 = input(n, 0);
    if (x0.constant) fail(n, "it reshapes a constant");
    const auto shape = onnxShape(x0);
    const std::int64_t count = Tensor{shape, {}}.size();
    if (n.op == "Flatten") {
        long axis = attrInt(*n.proto, "axis", 1);
        if (axis < 0) axis += long(shape.size());
        if (axis != 1) fail(n, "only Flatten at axis 1 is supported");
        target = {1, count};
    } else if (n.op == "Reshape") {
        const OnnxValue& t = input(n, 1);
        if (!t.constant) fail(n, "its target shape is not known before the run");
        for (size_t i = 0; i < t.numbers.size(); ++i) {
            auto d = integerOf(t.numbers[i], n);
            if (d == 0 && !attrInt(*n.proto, "allowzero", 0)) d = i < shape.size() ? shape[i] : 0;
            target.push_back(d);
        }
    } else {  // Squeeze, Unsqueeze: the axes change, the values do not
        OnnxValue v;
        v.constant = true;
        v.dims = shape;
        v.numbers.assign(size_t(count), 0.0);
        std::vector<const OnnxValue*> in{&v};
        for (size_t k = 1; k < n.inputs.size(); ++k) in.push_back(&input(n, k));
        auto folded = foldConstant(g_, n, in);
        if (!folded) fail(n, "its axes are not known before the run");
        target = folded->dims;
    }
    std::int64_t known = 1;
    int unknown = -1;
    for (size_t i = 0; i < target.size(); ++i)
        if (target[i] < 0)
            unknown = int(i);
        else if (__builtin_mul_overflow(known, target[i], &known))
            fail(n, "its target shape is too large");
    if (unknown >= 0 && known > 0) target[size_t(unknown)] = count / known;
    if (target.empty() || target[0] != 1 || (unknown < 0 && known != count) ||
        (unknown >= 0 && target[size_t(unknown)] * known != count))
        fail(n, "its target shape does not keep the batch axis");
    OnnxValue x = arrange(x0, identityOrder(shape.size()), n);
    Op op;
    op.kind = Kind::Reshape;
    op.name = n.name;
    op.cls = n.op;
    op.dims.assign(target.begin() + 1, target.end());
    return emit(op, {&x}, identityOrder(target.size()));
}

OnnxValue OnnxCompiler::resize(const Node& n) {
    const OnnxValue& x0 = input(n, 0);
    if (x0.constant || x0.order.size() != 3) fail(n, "only the resizing of 2D images is supported");
    if (attrString(*n.proto, "mode", "nearest") != "nearest")
        fail(n, "only nearest resizing is supported");
    const auto shape = onnxShape(x0);
    std::vector<double> scales;
    const size_t scalesAt = n.op == "Resize" && g_.opset() >= 11 ? 2 : 1;
    if (n.inputs.size() > scalesAt && !n.inputs[scalesAt].empty())
        scales = input(n, scalesAt).numbers;
    if (scales.empty() && n.op == "Resize" && n.inputs.size() > 3 && !n.inputs[3].empty()) {
        auto sizes = input(n, 3).numbers;
        for (size_t a = 0; a < sizes.size() && a < shape.size(); ++a)
            scales.push_back(sizes[a] / double(shape[a]));
    }
    if (auto attr = n.proto->attribute_size() ? std::optional<bool>(true) : std::nullopt;
        attr && scales.empty())
        for (const auto& a : n.proto->attribute())
            if (a.name() == "scales") scales.assign(a.floats().begin(), a.floats().end());
    for (double& v : scales)
        if (!(v >= 0 && v < 65536)) fail(n, "its scale factors are out of range");
    if (scales.size() != 4 || scales[0] != 1 || scales[1] != 1 ||
        scales[2] != std::floor(scales[2]) || scales[3] != std::floor(scales[3]) || scales[2] < 1 ||
        scales[3] < 1)
        fail(n, "only integer scale factors of the two spatial axes are supported");
    OnnxValue x = arrange(x0, channelsLast(4), n);
    Op op;
    op.kind = Kind::UpSample;
    op.name = n.name;
    op.cls = n.op;
    op.dims = {std::int64_t(scales[2]), std::int64_t(scales[3])};
    return emit(op, {&x}, x.order);
}

}  // namespace cle::core::eval
