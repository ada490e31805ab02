#pragma once
// Why a layer's INT8 quality got worse after equalization, where the run says: a dead or
// constant channel left unscaled, or a depthwise neighbour whose range imbalance was moved into
// the layer. Each reason names the pair that caused it, so the user can drop that pair and run
// again to compare.
#include <string>
#include <vector>

#include <QString>

#include "cle/core/equalizer.h"
#include "cle/core/pairs.h"
#include "cle/core/quantization.h"
#include "cle/core/weight_file.h"

namespace cle::ui {

struct LossReason {
    std::string layer;     ///< the layer that got worse
    double gain = 0;       ///< its per-tensor change in dB (negative)
    QString text;          ///< one sentence; "" when no cause is known
    core::LayerPair pair;  ///< the pair to drop to compare (the first one holding the layer
                           ///< when no cause is known)
};

/// One entry per layer whose per-tensor SQNR fell (by more than 0.05 dB) or that equalization
/// collapsed, in the report's order.
std::vector<LossReason> explainLosses(const core::QuantizationReport& report,
                                      const core::Summary& summary, const core::ModelInfo& model);

}  // namespace cle::ui
