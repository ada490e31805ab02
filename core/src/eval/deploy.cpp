// The program as deployed: batch norms folded into the layer before them, kernels rounded to
// INT8 (symmetric, scale max|W| / 127, round half to even).
#include <Eigen/Core>
#include <algorithm>
#include <cmath>

#include "program.h"

namespace cle::core::eval {

namespace {

// The tensor a fold or per-channel rounding scales, and its number of output channels.
Tensor& outputKernel(Op& op) { return op.kind == Kind::Separable ? op.pointwise : op.kernel; }

long channelsOf(const Tensor& k, bool depthwise) {
    return depthwise ? k.shape[2] * k.shape[3] : k.shape.back();
}

// The Keras axis a layer's output channels are on (0: only -1 names it).
long channelAxis(const Op& op) {
    if (op.kind == Kind::Dense) return 0;
    return op.oneD ? 2 : 3;
}

void fold(Op& layer, Op& bn) {
    Tensor& k = outputKernel(layer);
    const long c = channelsOf(k, layer.kind == Kind::Depthwise);
    Eigen::Map<Eigen::Array<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> w(
        k.values.data(), long(k.values.size()) / c, c);
    Eigen::Map<const Eigen::Array<float, 1, Eigen::Dynamic>> scale(bn.scale.data(), c);
    w.rowwise() *= scale;
    if (layer.bias.empty()) layer.bias.assign(size_t(c), 0.f);
    for (long i = 0; i < c; ++i)
        layer.bias[size_t(i)] = layer.bias[size_t(i)] * bn.scale[size_t(i)] + bn.shift[size_t(i)];
    bn.kind = Kind::Identity;
}

void quantize(Tensor& k, long channels, WeightQuantization q) {
    const long c = q == WeightQuantization::PerChannel ? channels : 1;
    Eigen::Map<Eigen::Array<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> w(
        k.values.data(), long(k.values.size()) / c, c);
    for (long j = 0; j < c; ++j) {
        const float scale = w.col(j).abs().maxCoeff() / 127.f;
        if (!(scale > 0) || !std::isfinite(scale)) continue;
        w.col(j) = (w.col(j) / scale).unaryExpr([](float v) { return std::nearbyint(v); }) * scale;
    }
}

}  // namespace

bool hasWeights(Kind k) {
    return k == Kind::Conv || k == Kind::Depthwise || k == Kind::Separable || k == Kind::Dense;
}

void quantizeActivation(Tensor& x, float lo, float hi) {
    lo = std::min(lo, 0.f);
    hi = std::max(hi, 0.f);
    const float scale = (hi - lo) / 255.f;
    if (!(scale > 0) || !std::isfinite(scale)) return;
    const float zero = std::nearbyint(-lo / scale);
    Eigen::Map<Eigen::ArrayXf> v(x.values.data(), Eigen::Index(x.values.size()));
    v = ((v / scale).unaryExpr([](float t) { return std::nearbyint(t); }) + zero)
            .max(0.f)
            .min(255.f);
    v = (v - zero) * scale;
}

void foldBatchNorms(Program& p) {
    std::vector<int> readers(size_t(p.slots), 0);
    for (const auto& op : p.ops)
        for (int s : op.in) ++readers[size_t(s)];
    for (int s : p.outputSlots) ++readers[size_t(s)];
    for (auto& bn : p.ops) {
        if (bn.kind != Kind::BatchNorm || bn.in.size() != 1) continue;
        const int slot = bn.in[0];
        auto layer =
            std::find_if(p.ops.begin(), p.ops.end(), [&](const Op& o) { return o.out == slot; });
        if (layer == p.ops.end() || !hasWeights(layer->kind) || readers[size_t(slot)] != 1)
            continue;
        if (layer->activation != "linear") continue;
        if (bn.axis != -1 && bn.axis != channelAxis(*layer)) continue;
        if (long(bn.scale.size()) !=
            channelsOf(outputKernel(*layer), layer->kind == Kind::Depthwise))
            continue;
        fold(*layer, bn);
    }
}

void quantizeWeights(Program& p, WeightQuantization q) {
    if (q == WeightQuantization::None) return;
    for (auto& op : p.ops) {
        if (!hasWeights(op.kind)) continue;
        const bool dw = op.kind == Kind::Depthwise || op.kind == Kind::Separable;
        quantize(op.kernel, channelsOf(op.kernel, dw), q);
        if (op.kind == Kind::Separable) quantize(op.pointwise, op.pointwise.shape.back(), q);
    }
}

}  // namespace cle::core::eval
