#pragma once
// Quantization preview: how well each layer's weights survive symmetric INT8 quantization,
// per tensor and per output channel, before and after equalization.
#include <string>
#include <vector>

#include "cle/core/model.h"

namespace cle::core {

/// Signal-to-quantization-noise ratio in dB of `t` quantized to symmetric INT8 with one scale
/// (max|W| / 127, round half to even). +inf when quantization is exact.
double sqnrPerTensor(const Tensor& t);
/// The same with one scale per channel along `axis`.
double sqnrPerChannel(const Tensor& t, int axis);

struct LayerSqnr {
    std::string name;
    std::int64_t parameters = 0;
    double perTensorBefore = 0;  ///< dB; "before" is after batch-norm folding
    double perTensorAfter = 0;
    double perChannelBefore = 0;
    double perChannelAfter = 0;
};

struct SqnrStats {
    double median = 0;
    double worst = 0;
    double weightedMean = 0;  ///< mean over layers weighted by parameter count
};

struct QuantizationReport {
    std::vector<LayerSqnr> layers;
    SqnrStats perTensorBefore, perTensorAfter, perChannelBefore, perChannelAfter;
};

/// Measures the "before" figures of the named layers of `model` (batch norms already folded).
QuantizationReport quantizationBefore(const Model& model, const std::vector<std::string>& layers);
/// Adds the "after" figures from the equalized layers and computes the summaries.
void quantizationAfter(QuantizationReport& report, const std::vector<Layer>& after);

}  // namespace cle::core
