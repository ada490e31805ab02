#pragma once
// Quantization preview: how well each layer's weights survive symmetric INT8 quantization,
// per tensor and per output channel, before and after equalization.
#include <cstdint>
#include <string>
#include <vector>

#include "cle/core/model.h"

namespace cle::core {

/// Signal-to-quantization-noise ratio in dB of `t` quantized to symmetric INT8 with one scale
/// (max|W| / 127, round half to even). +inf when quantization is exact.
double sqnrPerTensor(const Tensor& t);
/// The same with one scale per channel along `axis`.
double sqnrPerChannel(const Tensor& t, int axis);

/// A layer is collapsed under per-tensor INT8 when more than this fraction of its non-zero
/// weights round to zero. Its energy SQNR can still be high (one huge channel holds all the
/// energy), so the preview never counts a collapsed layer's SQNR as a gain.
inline constexpr double kCollapseFraction = 0.5;

/// Everything the preview measures of one tensor, with per-tensor INT8 as above.
struct TensorQuantization {
    double perTensor = 0;     ///< SQNR in dB, one scale
    double perChannel = 0;    ///< SQNR in dB, one scale per output channel
    double zeroFraction = 0;  ///< non-zero weights that round to 0 (per tensor) / non-zero weights
    std::int64_t zeroedChannels = 0;  ///< output channels not all zero that round to all zero
    bool collapsed() const { return zeroFraction > kCollapseFraction; }
};

/// Measures `t` (output channels along `outAxis`) in two passes over its values: the largest
/// magnitude per channel, then both quantizations at once.
TensorQuantization quantizeInt8(const Tensor& t, int outAxis);

struct LayerSqnr {
    std::string name;
    std::int64_t parameters = 0;
    double perTensorBefore = 0;  ///< dB; "before" is after batch-norm folding
    double perTensorAfter = 0;
    double perChannelBefore = 0;
    double perChannelAfter = 0;
    double zeroFractionBefore = 0;  ///< see TensorQuantization, per-tensor scheme
    double zeroFractionAfter = 0;
    std::int64_t zeroedChannelsBefore = 0;
    std::int64_t zeroedChannelsAfter = 0;
    bool collapsedBefore = false;  ///< zero fraction above kCollapseFraction
    bool collapsedAfter = false;
    /// Collapsed by equalization: collapsed after, not before.
    bool collapsedByEqualization() const { return collapsedAfter && !collapsedBefore; }
};

struct SqnrStats {
    double median = 0;
    double worst = 0;
    double weightedMean = 0;  ///< mean over layers weighted by parameter count
};

/// The per-tensor summaries count a layer that is collapsed (in that state) as 0 dB, the SQNR of
/// a tensor quantized to all zeros, whatever its energy SQNR: a layer that equalization collapses
/// shows as a loss, never as a gain. The per-channel summaries use the measured SQNR.
struct QuantizationReport {
    std::vector<LayerSqnr> layers;
    SqnrStats perTensorBefore, perTensorAfter, perChannelBefore, perChannelAfter;
    /// Names of the layers that equalization collapsed, in layer order.
    std::vector<std::string> collapsedLayers;
};

/// Measures the "before" figures of the named layers of `model` (batch norms already folded), one
/// layer per task on `threads` threads (0: one per core, at most 8); results do not depend on it.
QuantizationReport quantizationBefore(const Model& model, const std::vector<std::string>& layers,
                                      int threads = 0);
/// Adds the "after" figures from the equalized layers and computes the summaries.
void quantizationAfter(QuantizationReport& report, const std::vector<Layer>& after,
                       int threads = 0);

}  // namespace cle::core
