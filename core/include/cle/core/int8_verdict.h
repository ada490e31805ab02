#pragma once
// What equalization did to INT8 at the network's output: the one figure a front end headlines
// after a verification, so that a per-layer preview never stands in for the network.
#include <string>

#include "cle/core/verification.h"

namespace cle::core {

enum class Int8Change { Better, Unchanged, Worse };

struct Int8Verdict {
    Int8Change change = Int8Change::Unchanged;
    /// Candidate minus original output SQNR with INT8 weights per tensor (dB); with ReLU6 relaxed,
    /// both relaxed (what equalization itself changes).
    double gainDb = 0;
};

/// Changes smaller than this (dB) are reported as unchanged: the figure of 8 samples moves by
/// about as much between input sets.
inline constexpr double kInt8VerdictMarginDb = 0.1;

/// The verdict of `v`, from its per-tensor output SQNR (the figure equalization targets).
Int8Verdict int8Verdict(const Verification& v);

/// One sentence for a person: "INT8 output 4.9 dB closer to the float network (weights per
/// tensor)" or a warning that the original weights quantize better on these inputs.
std::string int8VerdictText(const Verification& v);

}  // namespace cle::core
