// Activations, per-element layers (batch norm, ReLU family, rescaling), merges and reshapes.
#include <Eigen/Core>
#include <cmath>
#include <cstring>
#include <numeric>

#include "cle/core/error.h"
#include "program.h"

namespace cle::core::eval {

namespace {

using RowArray = Eigen::Array<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Flat = Eigen::Map<Eigen::ArrayXf>;
using Row = Eigen::Map<const Eigen::Array<float, 1, Eigen::Dynamic>>;

Flat flat(Tensor& t) { return Flat(t.values.data(), Eigen::Index(t.values.size())); }

// Softmax over the axis `axis` of a per-sample tensor.
void softmax(Tensor& x, long axis) {
    long outer = 1, inner = 1, n = x.shape[size_t(axis)];
    for (long i = 0; i < axis; ++i) outer *= x.shape[size_t(i)];
    for (long i = axis + 1; i < x.rank(); ++i) inner *= x.shape[size_t(i)];
    for (long o = 0; o < outer; ++o) {
        Eigen::Map<RowArray> block(x.values.data() + o * n * inner, n, inner);
        block.rowwise() -= block.colwise().maxCoeff();
        block = block.exp();
        block.rowwise() /= block.colwise().sum();
    }
}

// View of x as [outer, channels, inner] around `axis`, for per-channel parameters.
void perChannel(Tensor& x, long axis, const std::vector<float>& scale,
                const std::vector<float>& shift) {
    long outer = 1, inner = 1, c = x.shape[size_t(axis)];
    for (long i = 0; i < axis; ++i) outer *= x.shape[size_t(i)];
    for (long i = axis + 1; i < x.rank(); ++i) inner *= x.shape[size_t(i)];
    for (long o = 0; o < outer; ++o) {
        Eigen::Map<RowArray> block(x.values.data() + o * c * inner, c, inner);
        if (!scale.empty()) block.colwise() *= Eigen::Map<const Eigen::ArrayXf>(scale.data(), c);
        if (!shift.empty()) block.colwise() += Eigen::Map<const Eigen::ArrayXf>(shift.data(), c);
    }
}

}  // namespace

long sampleAxis(long kerasAxis, int rank, const std::string& layer) {
    long a = kerasAxis < 0 ? kerasAxis + rank + 1 : kerasAxis;
    if (a < 1 || a > rank)
        throw inputError("layer '" + layer + "' uses axis " + std::to_string(kerasAxis) +
                         ", which an input of rank " + std::to_string(rank + 1) + " does not have");
    return a - 1;
}

void activate(const std::string& fn, Tensor& x, bool noSoftmax) {
    Flat v = flat(x);
    auto sigmoid = [&] { return 1.f / (1.f + (-v).exp()); };
    if (fn == "linear" || fn.empty()) return;
    if (fn == "relu")
        v = v.max(0.f);
    else if (fn == "relu6")
        v = v.max(0.f).min(6.f);
    else if (fn == "sigmoid")
        v = sigmoid();
    else if (fn == "hard_sigmoid")
        v = (0.2f * v + 0.5f).max(0.f).min(1.f);
    else if (fn == "hard_sigmoid_relu6")  // Keras 3's hard_sigmoid, PyTorch's Hardsigmoid
        v = (v + 3.f).max(0.f).min(6.f) / 6.f;
    else if (fn == "tanh")
        v = v.tanh();
    else if (fn == "swish" || fn == "silu")
        v = v * sigmoid();
    else if (fn == "elu")
        v = (v > 0.f).select(v, v.exp() - 1.f);
    else if (fn == "selu")
        v = 1.0507009873554805f * (v > 0.f).select(v, 1.6732632423543772f * (v.exp() - 1.f));
    else if (fn == "gelu")
        v = 0.5f * v * (1.f + v.unaryExpr([](float t) { return std::erf(t * float(M_SQRT1_2)); }));
    else if (fn == "softplus")
        v = (v.exp() + 1.f).log();
    else if (fn == "softsign")
        v = v / (v.abs() + 1.f);
    else if (fn == "exponential")
        v = v.exp();
    else if (fn == "leaky_relu")  // Keras' default slope
        v = (v > 0.f).select(v, 0.2f * v);
    else if (fn == "hard_silu" || fn == "hard_swish")
        v = v * (v + 3.f).max(0.f).min(6.f) / 6.f;
    else if (fn == "mish")
        v = v * (v.exp() + 1.f).log().tanh();
    else if (fn == "softmax") {
        if (!noSoftmax) softmax(x, x.rank() - 1);
    } else
        throw inputError("activation '" + fn + "' cannot be evaluated");
}

Tensor elementwise(const Op& op, const Tensor& input) {
    Tensor x = input;
    Flat v = flat(x);
    switch (op.kind) {
        case Kind::BatchNorm:
            perChannel(x, sampleAxis(op.axis, x.rank(), op.name), op.scale, op.shift);
            break;
        case Kind::Rescale:
            if (op.scale.size() == 1)
                v = v * op.scale[0] + op.shift[0];
            else
                perChannel(x, x.rank() - 1, op.scale, op.shift);
            break;
        case Kind::Relu: {
            const float t = float(op.threshold), s = float(op.slope);
            Eigen::ArrayXf neg = s * (v - t);
            v = (v >= t).select(v, neg);
            if (op.maxValue >= 0) v = v.min(float(op.maxValue));
            break;
        }
        case Kind::Elu:
            v = (v > 0.f).select(v, float(op.slope) * (v.exp() - 1.f));
            break;
        case Kind::ThresholdedRelu:
            v = (v > float(op.threshold)).select(v, 0.f);
            break;
        case Kind::PRelu: {
            if (op.scale.size() != x.values.size() && x.values.size() % op.scale.size())
                throw inputError("PReLU '" + op.name + "' has alphas of the wrong size");
            long n = long(op.scale.size());
            Eigen::Map<RowArray> m(x.values.data(), long(x.values.size()) / n, n);
            Eigen::ArrayXXf alpha = Row(op.scale.data(), n).replicate(m.rows(), 1);
            m = (m > 0.f).select(m, m * alpha);
            break;
        }
        case Kind::Softmax:
            softmax(x, sampleAxis(op.axis, x.rank(), op.name));
            break;
        default:
            break;
    }
    return x;
}

Tensor combine(const Op& op, const std::vector<const Tensor*>& in) {
    if (in.empty()) throw inputError("layer '" + op.name + "' has no inputs");
    if (op.kind == Kind::Concat) {
        const int rank = in[0]->rank();
        const long axis = sampleAxis(op.axis, rank, op.name);
        long outer = 1, total = 0;
        for (long i = 0; i < axis; ++i) outer *= in[0]->shape[size_t(i)];
        Tensor y;
        y.shape = in[0]->shape;
        std::vector<long> widths;
        for (const Tensor* t : in) {
            bool same = t->rank() == rank;  // every axis but the joined one
            for (int a = 0; same && a < rank; ++a)
                same = a == axis || t->shape[size_t(a)] == in[0]->shape[size_t(a)];
            if (!same)
                throw inputError("Concatenate '" + op.name + "' gets tensors of other shapes");
            widths.push_back(long(t->values.size()) / outer);
            total += widths.back();
        }
        y.shape[size_t(axis)] = 0;
        for (const Tensor* t : in) y.shape[size_t(axis)] += t->shape[size_t(axis)];
        y.values.resize(size_t(outer * total));
        for (long o = 0, at = 0; o < outer; ++o)
            for (size_t k = 0; k < in.size(); at += widths[k], ++k)
                std::memcpy(y.values.data() + at, in[k]->values.data() + o * widths[k],
                            size_t(widths[k]) * sizeof(float));
        return y;
    }
    Tensor y = *in[0];
    Flat acc = flat(y);
    for (size_t k = 1; k < in.size(); ++k) {
        if (in[k]->shape != y.shape)
            throw inputError("layer '" + op.name + "' (" + op.cls +
                             ") gets tensors of different shapes");
        Eigen::Map<const Eigen::ArrayXf> b(in[k]->values.data(), acc.size());
        if (op.merge == "add" || op.merge == "average")
            acc += b;
        else if (op.merge == "subtract")
            acc -= b;
        else if (op.merge == "multiply")
            acc *= b;
        else if (op.merge == "maximum")
            acc = acc.max(b);
        else
            acc = acc.min(b);
    }
    if (op.merge == "average") acc /= float(in.size());
    return y;
}

Tensor reshape(const Op& op, const Tensor& x) {
    Tensor y;
    const auto n = std::int64_t(x.values.size());
    if (op.kind == Kind::Flatten) {
        y.shape = {n};
    } else if (op.kind == Kind::Reshape) {
        y.shape = op.dims;
        std::int64_t known = 1, unknown = -1;
        for (size_t i = 0; i < y.shape.size(); ++i)
            if (y.shape[i] < 0)
                unknown = std::int64_t(i);
            else
                known *= y.shape[i];
        if (unknown >= 0 && known > 0) y.shape[size_t(unknown)] = n / known;
        if (y.size() != n)
            throw inputError("Reshape '" + op.name + "' cannot reshape " + std::to_string(n) +
                             " values to its target shape");
    } else {  // Permute: dims are 1-based axes of the sample
        if (long(op.dims.size()) != x.rank())
            throw inputError("Permute '" + op.name + "' does not match its input's rank");
        for (auto d : op.dims) y.shape.push_back(x.shape[size_t(d - 1)]);
        y.values.resize(x.values.size());
        std::vector<std::int64_t> stride(size_t(x.rank()), 1), index(size_t(x.rank()), 0);
        for (int i = x.rank() - 2; i >= 0; --i)
            stride[size_t(i)] = stride[size_t(i + 1)] * x.shape[size_t(i + 1)];
        for (std::int64_t k = 0; k < n; ++k) {
            std::int64_t src = 0;
            for (size_t i = 0; i < index.size(); ++i)
                src += index[i] * stride[size_t(op.dims[i] - 1)];
            y.values[size_t(k)] = x.values[size_t(src)];
            for (int i = int(index.size()) - 1; i >= 0 && ++index[size_t(i)] == y.shape[size_t(i)];
                 --i)
                index[size_t(i)] = 0;
        }
        return y;
    }
    y.values = x.values;
    return y;
}

}  // namespace cle::core::eval
