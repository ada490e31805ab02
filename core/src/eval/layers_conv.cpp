// Convolutions (im2col + Eigen GEMM), depthwise convolutions and Dense layers.
#include <Eigen/Core>
#include <cstring>

#include "cle/core/error.h"
#include "geometry.h"

namespace cle::core::eval {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using RowArray = Eigen::Array<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using StridedRows = Eigen::Map<const RowArray, Eigen::Unaligned, Eigen::OuterStride<>>;

namespace {

long axisSize(long in, long k, long s, long d, const std::string& padding, long& before) {
    long span = (k - 1) * d + 1;
    if (padding == "same") {
        long out = (in + s - 1) / s;
        long total = std::max((out - 1) * s + span - in, 0L);
        before = total / 2;
        return out;
    }
    if (padding == "causal") {
        before = span - 1;
        return (in + before - span) / s + 1;
    }
    before = 0;
    return in >= span ? (in - span) / s + 1 : 0;
}

// Rows of patches [oh * ow, kh * kw * cin] of the channels [c0, c0 + cin) of x.
void im2col(const Tensor& x, const Geometry& g, const Window& w, long c0, long cin, RowMatrix& p) {
    const long kh = w.kernel[0], kw = w.kernel[1];
    p.setZero(g.oh * g.ow, kh * kw * cin);
    const float* src = x.values.data();
    for (long a = 0; a < kh; ++a) {
        for (long b = 0; b < kw; ++b) {
            long ilo, ihi, jlo, jhi;
            validRange(g.h, g.oh, w.stride[0], a * w.dilation[0], g.padTop, ilo, ihi);
            validRange(g.w, g.ow, w.stride[1], b * w.dilation[1], g.padLeft, jlo, jhi);
            const long col = (a * kw + b) * cin;
            for (long i = ilo; i < ihi; ++i) {
                long r = i * w.stride[0] + a * w.dilation[0] - g.padTop;
                for (long j = jlo; j < jhi; ++j) {
                    long c = j * w.stride[1] + b * w.dilation[1] - g.padLeft;
                    std::memcpy(p.data() + (i * g.ow + j) * p.cols() + col,
                                src + (r * g.w + c) * g.c + c0, size_t(cin) * sizeof(float));
                }
            }
        }
    }
}

void addBias(const std::vector<float>& bias, float* y, long rows, long cols) {
    if (bias.empty()) return;
    Eigen::Map<RowArray> out(y, rows, cols);
    out.rowwise() += Eigen::Map<const Eigen::Array<float, 1, Eigen::Dynamic>>(bias.data(), cols);
}

}  // namespace

Geometry geometryOf(const Window& w, bool oneD, const Tensor& x, const std::string& layer) {
    if (x.rank() != (oneD ? 2 : 3))
        throw inputError("layer '" + layer + "' expects inputs of rank " +
                         std::to_string(oneD ? 3 : 4) + " (with the batch axis), got rank " +
                         std::to_string(x.rank() + 1));
    for (int a = 0; a < 2; ++a)
        if (w.kernel[a] < 1 || w.stride[a] < 1 || w.dilation[a] < 1)
            throw inputError("layer '" + layer + "' has a window size, stride or dilation below 1");
    Geometry g;
    g.h = oneD ? 1 : x.shape[0];
    g.w = x.shape[oneD ? 0 : 1];
    g.c = x.shape.back();
    g.oh = axisSize(g.h, w.kernel[0], w.stride[0], w.dilation[0], w.padding, g.padTop);
    g.ow = axisSize(g.w, w.kernel[1], w.stride[1], w.dilation[1], w.padding, g.padLeft);
    if (g.oh <= 0 || g.ow <= 0)
        throw inputError("layer '" + layer + "': the input is smaller than its window");
    return g;
}

Tensor convolution(const Op& op, const Tensor& x) {
    Geometry g = geometryOf(op.window, op.oneD, x, op.name);
    const long cout = op.kernel.shape.back();
    const long cinG = op.kernel.shape[op.kernel.rank() - 2];
    if (cinG * op.groups != g.c || cout % op.groups)
        throw inputError("layer '" + op.name + "' (" + op.cls + ") has a kernel for " +
                         std::to_string(cinG * op.groups) + " input channels, got " +
                         std::to_string(g.c));
    Tensor y;
    y.shape = op.oneD ? std::vector<std::int64_t>{g.ow, cout}
                      : std::vector<std::int64_t>{g.oh, g.ow, cout};
    y.values.resize(size_t(g.oh * g.ow * cout));
    Eigen::Map<RowMatrix> out(y.values.data(), g.oh * g.ow, cout);
    const long kRows = op.window.kernel[0] * op.window.kernel[1] * cinG;
    Eigen::Map<const RowMatrix> k(op.kernel.values.data(), kRows, cout);
    const long coutG = cout / op.groups;
    const bool direct = kRows == g.c && op.groups == 1 && op.window.stride[0] == 1 &&
                        op.window.stride[1] == 1 && g.oh == g.h && g.ow == g.w;
    if (direct) {
        out.noalias() = Eigen::Map<const RowMatrix>(x.values.data(), g.h * g.w, g.c) * k;
    } else {
        RowMatrix patches;
        for (long grp = 0; grp < op.groups; ++grp) {
            im2col(x, g, op.window, grp * cinG, cinG, patches);
            out.middleCols(grp * coutG, coutG).noalias() =
                patches * k.middleCols(grp * coutG, coutG);
        }
    }
    addBias(op.bias, y.values.data(), g.oh * g.ow, cout);
    return y;
}

Tensor depthwise(const Tensor& kernel, const Window& w, long multiplier, bool oneD,
                 const Tensor& x) {
    Geometry g = geometryOf(w, oneD, x, "depthwise");
    const long kh = w.kernel[0], kw = w.kernel[1];
    const long c = g.c * multiplier;
    Tensor src = x;
    if (multiplier > 1) {  // channel ch * multiplier + m reads input channel ch
        Eigen::Map<const RowArray> in(x.values.data(), g.h * g.w * g.c, 1);
        src.values.resize(size_t(g.h * g.w * c));
        Eigen::Map<RowArray>(src.values.data(), g.h * g.w * g.c, multiplier) =
            in.replicate(1, multiplier);
    }
    Tensor y;
    y.shape = oneD ? std::vector<std::int64_t>{g.ow, c} : std::vector<std::int64_t>{g.oh, g.ow, c};
    y.values.assign(size_t(g.oh * g.ow * c), 0.f);
    Eigen::Map<RowArray> out(y.values.data(), g.oh * g.ow, c);
    for (long a = 0; a < kh; ++a)
        for (long b = 0; b < kw; ++b) {
            Eigen::Map<const Eigen::Array<float, 1, Eigen::Dynamic>> tap(
                kernel.values.data() + (a * kw + b) * c, c);
            long ilo, ihi, jlo, jhi;
            validRange(g.h, g.oh, w.stride[0], a * w.dilation[0], g.padTop, ilo, ihi);
            validRange(g.w, g.ow, w.stride[1], b * w.dilation[1], g.padLeft, jlo, jhi);
            if (jhi <= jlo) continue;
            for (long i = ilo; i < ihi; ++i) {
                long r = i * w.stride[0] + a * w.dilation[0] - g.padTop;
                long col = jlo * w.stride[1] + b * w.dilation[1] - g.padLeft;
                StridedRows in(src.values.data() + (r * g.w + col) * c, jhi - jlo, c,
                               Eigen::OuterStride<>(w.stride[1] * c));
                out.middleRows(i * g.ow + jlo, jhi - jlo) += in.rowwise() * tap;
            }
        }
    return y;
}

void addChannelBias(const std::vector<float>& bias, Tensor& y) {
    const long c = y.shape.back();
    addBias(bias, y.values.data(), long(y.values.size()) / c, c);
}

Tensor dense(const float* kernel, long in, long units, const std::vector<float>& bias,
             const std::string& name, const Tensor& x) {
    if (x.rank() < 1 || x.shape.back() != in)
        throw inputError("layer '" + name + "' expects " + std::to_string(in) +
                         " features in the last axis, got " +
                         std::to_string(x.rank() ? x.shape.back() : 0));
    const long rows = long(x.values.size()) / in;
    Tensor y;
    y.shape = x.shape;
    y.shape.back() = units;
    y.values.resize(size_t(rows * units));
    Eigen::Map<RowMatrix>(y.values.data(), rows, units).noalias() =
        Eigen::Map<const RowMatrix>(x.values.data(), rows, in) *
        Eigen::Map<const RowMatrix>(kernel, in, units);
    addBias(bias, y.values.data(), rows, units);
    return y;
}

}  // namespace cle::core::eval
