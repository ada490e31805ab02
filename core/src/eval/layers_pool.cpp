// Pooling, global pooling, zero padding, cropping and up-sampling.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "cle/core/error.h"
#include "geometry.h"

namespace cle::core::eval {

namespace {

using RowArray = Eigen::Array<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using StridedRows = Eigen::Map<const RowArray, Eigen::Unaligned, Eigen::OuterStride<>>;

std::vector<std::int64_t> spatialShape(bool oneD, long h, long w, long c) {
    return oneD ? std::vector<std::int64_t>{w, c} : std::vector<std::int64_t>{h, w, c};
}

}  // namespace

Tensor pooling(const Op& op, const Tensor& x) {
    const Window& w = op.window;
    Geometry g = geometryOf(w, op.oneD, x, op.name);
    const bool max = op.kind == Kind::MaxPool;
    Tensor y;
    y.shape = spatialShape(op.oneD, g.oh, g.ow, g.c);
    const float start = max ? -std::numeric_limits<float>::infinity() : 0.f;
    y.values.assign(size_t(g.oh * g.ow * g.c), start);
    Eigen::Map<RowArray> out(y.values.data(), g.oh * g.ow, g.c);
    Eigen::ArrayXf rows = Eigen::ArrayXf::Zero(g.oh), cols = Eigen::ArrayXf::Zero(g.ow);
    for (long a = 0; a < w.kernel[0]; ++a) {
        long ilo, ihi;
        validRange(g.h, g.oh, w.stride[0], a, g.padTop, ilo, ihi);
        rows.segment(ilo, ihi - ilo) += 1.f;
        for (long b = 0; b < w.kernel[1]; ++b) {
            long jlo, jhi;
            validRange(g.w, g.ow, w.stride[1], b, g.padLeft, jlo, jhi);
            if (a == 0) cols.segment(jlo, jhi - jlo) += 1.f;
            if (jhi <= jlo) continue;
            for (long i = ilo; i < ihi; ++i) {
                long r = i * w.stride[0] + a - g.padTop;
                long col = jlo * w.stride[1] + b - g.padLeft;
                StridedRows in(x.values.data() + (r * g.w + col) * g.c, jhi - jlo, g.c,
                               Eigen::OuterStride<>(w.stride[1] * g.c));
                auto dst = out.middleRows(i * g.ow + jlo, jhi - jlo);
                if (max)
                    dst = dst.max(in);
                else
                    dst += in;
            }
        }
    }
    if (!max) {  // the mean over the window's elements inside the input
        for (long i = 0; i < g.oh; ++i) out.middleRows(i * g.ow, g.ow).colwise() /= cols * rows(i);
    }
    return y;
}

Tensor globalPooling(const Op& op, const Tensor& x) {
    if (x.rank() < 2)
        throw inputError("layer '" + op.name + "' (" + op.cls + ") needs a spatial input");
    const long c = x.shape.back();
    const long n = long(x.values.size()) / c;
    Eigen::Map<const RowArray> in(x.values.data(), n, c);
    Tensor y;
    y.shape = {c};
    if (op.keepDims) {
        y.shape.assign(size_t(x.rank() - 1), 1);
        y.shape.push_back(c);
    }
    y.values.resize(size_t(c));
    Eigen::Map<Eigen::Array<float, 1, Eigen::Dynamic>> out(y.values.data(), c);
    if (op.kind == Kind::GlobalMax)
        out = in.colwise().maxCoeff();
    else
        out = in.colwise().mean();
    return y;
}

// ZeroPadding and Cropping: pad = top, bottom, left, right (1D: left, right in [2], [3]).
Tensor padOrCrop(const Op& op, const Tensor& x) {
    const bool oneD = op.oneD;
    if (x.rank() != (oneD ? 2 : 3))
        throw inputError("layer '" + op.name + "' (" + op.cls + ") got an input of rank " +
                         std::to_string(x.rank() + 1));
    if (std::any_of(op.pad.begin(), op.pad.end(), [](long p) { return p < 0; }))
        throw inputError("layer '" + op.name + "' (" + op.cls +
                         ") has a negative padding or "
                         "cropping");
    const long h = oneD ? 1 : x.shape[0], w = x.shape[oneD ? 0 : 1], c = x.shape.back();
    const long sign = op.kind == Kind::Pad ? 1 : -1;
    const long oh = oneD ? 1 : h + sign * (op.pad[0] + op.pad[1]);
    const long ow = w + sign * (op.pad[2] + op.pad[3]);
    if (oh <= 0 || ow <= 0)
        throw inputError("layer '" + op.name + "' (" + op.cls + ") crops its whole input");
    Tensor y;
    y.shape = spatialShape(oneD, oh, ow, c);
    y.values.assign(size_t(oh * ow * c), 0.f);
    const long top = oneD ? 0 : op.pad[0], left = op.pad[2];
    for (long i = 0; i < oh; ++i) {
        long r = op.kind == Kind::Pad ? i - top : i + top;
        if (r < 0 || r >= h) continue;
        long j0 = op.kind == Kind::Pad ? left : 0;
        long s0 = op.kind == Kind::Pad ? 0 : left;
        long n = op.kind == Kind::Pad ? w : ow;
        std::memcpy(y.values.data() + (i * ow + j0) * c, x.values.data() + (r * w + s0) * c,
                    size_t(n * c) * sizeof(float));
    }
    return y;
}

// Nearest: row i reads i / size; bilinear: half-pixel centres, as Keras' resize does.
Tensor upSample(const Op& op, const Tensor& x) {
    if (x.rank() != 3)
        throw inputError("layer '" + op.name + "' (UpSampling2D) got an input of rank " +
                         std::to_string(x.rank() + 1));
    const long h = x.shape[0], w = x.shape[1], c = x.shape[2];
    const long sh = op.dims[0], sw = op.dims[1], oh = h * sh, ow = w * sw;
    Tensor y;
    y.shape = {oh, ow, c};
    y.values.resize(size_t(oh * ow * c));
    Eigen::Map<const RowArray> in(x.values.data(), h * w, c);
    Eigen::Map<RowArray> out(y.values.data(), oh * ow, c);
    auto source = [](long o, long scale, long size, long& lo, long& hi, float& t) {
        double s = std::max((o + 0.5) / double(scale) - 0.5, 0.0);
        lo = std::min(long(std::floor(s)), size - 1);
        hi = std::min(lo + 1, size - 1);
        t = float(s - double(lo));
    };
    for (long i = 0; i < oh; ++i)
        for (long j = 0; j < ow; ++j) {
            if (!op.bilinear) {
                out.row(i * ow + j) = in.row((i / sh) * w + j / sw);
                continue;
            }
            long r0, r1, c0, c1;
            float ty, tx;
            source(i, sh, h, r0, r1, ty);
            source(j, sw, w, c0, c1, tx);
            auto top = in.row(r0 * w + c0) * (1 - tx) + in.row(r0 * w + c1) * tx;
            auto bottom = in.row(r1 * w + c0) * (1 - tx) + in.row(r1 * w + c1) * tx;
            out.row(i * ow + j) = top * (1 - ty) + bottom * ty;
        }
    return y;
}

}  // namespace cle::core::eval
