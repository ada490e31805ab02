// Shape computations on constants, evaluated while compiling an ONNX graph, and the comparison of
// an equalized ONNX graph with its original.
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>

#include "cle/core/error.h"
#include "eval/onnx_compile.h"
#include "eval/onnx_values.h"

namespace cle::core::eval {

namespace {

using onnxfmt::Node;

}  // namespace

std::int64_t integerOf(double v, const Node& n) {
    if (!(std::fabs(v) < 4.611686018427387904e18) || v != std::floor(v))
        throw inputError("node '" + n.name + "' (" + n.op +
                         ") has a shape or index value that is "
                         "not a usable integer");
    return std::int64_t(v);
}

namespace {

std::int64_t count(const std::vector<std::int64_t>& dims) {
    std::int64_t n = 1;
    for (auto d : dims) n *= d;
    return n;
}

OnnxValue constant(std::vector<std::int64_t> dims, std::vector<double> numbers) {
    OnnxValue v;
    v.constant = true;
    v.dims = std::move(dims);
    v.numbers = std::move(numbers);
    return v;
}

long axisOf(long axis, long rank, const Node& n) {
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= std::max(rank, 1L))
        throw inputError("node '" + n.name + "' (" + n.op + ") has an axis out of range");
    return axis;
}

std::vector<std::int64_t> axesOf(const onnxfmt::Graph& g, const Node& n,
                                 const std::vector<const OnnxValue*>& in) {
    if (auto a = onnxfmt::attrInts(*n.proto, "axes")) return *a;
    std::vector<std::int64_t> axes;
    if (in.size() > 1 && in[1])
        for (double v : in[1]->numbers) axes.push_back(integerOf(v, n));
    (void)g;
    return axes;
}

OnnxValue gather(const Node& n, const OnnxValue& data, const OnnxValue& idx) {
    const long axis = axisOf(onnxfmt::attrInt(*n.proto, "axis", 0), long(data.dims.size()), n);
    std::int64_t outer = 1, inner = 1, size = data.dims[size_t(axis)];
    for (long i = 0; i < axis; ++i) outer *= data.dims[size_t(i)];
    for (size_t i = size_t(axis) + 1; i < data.dims.size(); ++i) inner *= data.dims[i];
    std::vector<std::int64_t> dims(data.dims.begin(), data.dims.begin() + axis);
    dims.insert(dims.end(), idx.dims.begin(), idx.dims.end());
    dims.insert(dims.end(), data.dims.begin() + axis + 1, data.dims.end());
    if (double(outer) * double(idx.numbers.size()) * double(inner) > double(1 << 26))
        throw inputError("node '" + n.name + "' (Gather) would make too many values");
    std::vector<double> out;
    for (std::int64_t o = 0; o < outer; ++o)
        for (double d : idx.numbers) {
            auto k = integerOf(d, n);
            if (k < 0) k += size;
            if (k < 0 || k >= size)
                throw inputError("node '" + n.name + "' (Gather) has an index out of range");
            for (std::int64_t i = 0; i < inner; ++i)
                out.push_back(data.numbers[size_t((o * size + k) * inner + i)]);
        }
    return constant(dims, out);
}

OnnxValue concat(const Node& n, const std::vector<const OnnxValue*>& in) {
    const long rank = long(in[0]->dims.size());
    const long axis = axisOf(onnxfmt::attrInt(*n.proto, "axis", 0), rank, n);
    std::vector<std::int64_t> dims = in[0]->dims;
    dims[size_t(axis)] = 0;
    std::int64_t outer = 1;
    for (long i = 0; i < axis; ++i) outer *= dims[size_t(i)];
    for (const auto* v : in) {
        if (long(v->dims.size()) != rank)
            throw inputError("node '" + n.name + "' (Concat) joins tensors of different ranks");
        dims[size_t(axis)] += v->dims[size_t(axis)];
    }
    std::vector<double> out;
    for (std::int64_t o = 0; o < outer; ++o)
        for (const auto* v : in) {
            const std::int64_t w =
                std::int64_t(v->numbers.size()) / std::max<std::int64_t>(outer, 1);
            out.insert(out.end(), v->numbers.begin() + o * w, v->numbers.begin() + (o + 1) * w);
        }
    return constant(dims, out);
}

OnnxValue arithmetic(const Node& n, const OnnxValue& a, const OnnxValue& b) {
    const bool scalarB = b.numbers.size() == 1;
    if (!scalarB && a.numbers.size() != b.numbers.size())
        throw inputError("node '" + n.name + "' (" + n.op + ") on constants of other shapes");
    std::vector<double> out(a.numbers.size());
    for (size_t i = 0; i < out.size(); ++i) {
        const double x = a.numbers[i], y = scalarB ? b.numbers[0] : b.numbers[i];
        out[i] = n.op == "Add" ? x + y : n.op == "Sub" ? x - y : n.op == "Mul" ? x * y : x / y;
    }
    return constant(a.dims, out);
}

}  // namespace

std::vector<std::int64_t> onnxShape(const OnnxValue& v) {
    if (v.constant) return v.dims;
    std::vector<std::int64_t> s(v.order.size() + 1, 1);
    for (size_t i = 0; i < v.order.size(); ++i) s[size_t(v.order[i])] = v.shape[i];
    return s;
}

std::optional<OnnxValue> foldConstant(const onnxfmt::Graph& g, const Node& n,
                                      const std::vector<const OnnxValue*>& in) {
    if (n.op == "Shape" && !in.empty() && in[0]) {
        auto s = onnxShape(*in[0]);
        return constant({std::int64_t(s.size())}, std::vector<double>(s.begin(), s.end()));
    }
    for (const auto* v : in)
        if (!v || !v->constant) return std::nullopt;  // computed, or an optional input left out
    if (in.empty()) return std::nullopt;
    const OnnxValue& x = *in[0];
    if (n.op == "Identity" || n.op == "Cast") return x;
    if (n.op == "ConstantOfShape") {
        std::vector<std::int64_t> dims;
        for (double d : x.numbers) dims.push_back(integerOf(d, n));
        if (std::any_of(dims.begin(), dims.end(),
                        [](std::int64_t d) { return d < 0 || d > (1 << 26); }) ||
            count(dims) > (std::int64_t(1) << 26))
            throw inputError("node '" + n.name + "' (ConstantOfShape) asks for too many values");
        double value = 0;
        for (const auto& a : n.proto->attribute())
            if (a.name() == "value" && a.has_t()) {
                auto v = g.file().numbers(a.t());
                if (!v.empty()) value = v[0];
            }
        return constant(dims, std::vector<double>(size_t(count(dims)), value));
    }
    if (n.op == "Gather" && in.size() == 2 && in[1] && !x.dims.empty()) return gather(n, x, *in[1]);
    if (n.op == "Concat") return concat(n, in);
    if ((n.op == "Add" || n.op == "Sub" || n.op == "Mul" || n.op == "Div") && in.size() == 2 &&
        in[1])
        return arithmetic(n, x, *in[1]);
    if (n.op == "Unsqueeze" || n.op == "Squeeze") {
        auto axes = axesOf(g, n, in);
        std::vector<std::int64_t> dims = x.dims;
        if (n.op == "Unsqueeze") {
            const long rank = long(dims.size() + axes.size());
            for (auto& a : axes) a = axisOf(long(a), rank, n);
            std::sort(axes.begin(), axes.end());
            for (auto a : axes)
                dims.insert(dims.begin() + std::min<long>(long(a), long(dims.size())), 1);
        } else {
            std::vector<std::int64_t> kept;
            for (size_t i = 0; i < dims.size(); ++i) {
                bool drop = axes.empty()
                                ? dims[i] == 1
                                : std::count(axes.begin(), axes.end(), std::int64_t(i)) ||
                                      std::count(axes.begin(), axes.end(),
                                                 std::int64_t(i) - std::int64_t(dims.size()));
                if (!drop) kept.push_back(dims[i]);
            }
            dims = kept;
        }
        return constant(dims, x.numbers);
    }
    return std::nullopt;
}

std::vector<std::string> onnxRelaxedNodes(const std::string& original,
                                          const std::string& candidate) {
    for (const auto* path : {&original, &candidate})
        if (!onnxfmt::isOnnxPath(*path))
            throw inputError("'" + *path +
                             "' is not an ONNX model like the file it is compared "
                             "with");
    auto a = onnxfmt::OnnxFile::open(original);
    auto b = onnxfmt::OnnxFile::open(candidate);
    const auto& na = a->model().graph().node();
    const auto& nb = b->model().graph().node();
    if (na.size() != nb.size())
        throw inputError("the graph of '" + candidate +
                         "' does not match the original's (different nodes)");
    std::vector<std::string> relaxed;
    onnxfmt::Graph ga(*a);
    for (int i = 0; i < na.size(); ++i) {
        const auto& x = na.Get(i);
        const auto& y = nb.Get(i);
        if (x.op_type() != y.op_type() || x.name() != y.name())
            throw inputError("the graph of '" + candidate +
                             "' does not match the original's at node '" +
                             ga.nodes()[size_t(i)].name + "'");
        if (x.op_type() != "Clip" || x.SerializeAsString() == y.SerializeAsString()) continue;
        // The relaxed form: the same Clip without its max (attribute or last input).
        onnx::NodeProto r = x;
        auto* attrs = r.mutable_attribute();
        for (int k = attrs->size() - 1; k >= 0; --k)
            if (attrs->Get(k).name() == "max") attrs->DeleteSubrange(k, 1);
        if (r.input_size() > 2) r.mutable_input()->RemoveLast();
        if (r.SerializeAsString() != y.SerializeAsString())
            throw inputError("the graph of '" + candidate +
                             "' does not match the original's at node '" +
                             ga.nodes()[size_t(i)].name + "'");
        relaxed.push_back(ga.nodes()[size_t(i)].name);
    }
    return relaxed;
}

}  // namespace cle::core::eval
