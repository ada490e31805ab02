#pragma once
// High-bias absorption (Nagel et al., DFQ, section 4.2), after equalization: for a pair whose first
// layer is followed by a folded batch norm and a ReLU, the part of each channel's bias that the
// ReLU never cuts, c = max(0, beta - 3 |gamma|) (beta, gamma of the batch norm divided by the
// channel's cumulative factor), moves from the first layer's bias into the second's:
// b1 -= c, b2 += sum over the kernel's spatial positions of W2 * c. The network's function is
// kept exactly only where the pre-activation stays above c, and where the second layer does not
// pad its input with zeros at the borders (a padded position receives no c).
#include <string>
#include <vector>

#include "cle/core/equalizer.h"
#include "cle/core/model.h"
#include "cle/core/run_plan.h"

namespace cle::core {

/// What one pair absorbed.
struct AbsorbedBias {
    std::string first;
    std::string second;
    std::vector<float> absorbed;  ///< c per output channel of `first` (0: nothing moved)
    int channels = 0;             ///< channels with c > 0
    double largest = 0;           ///< largest c
    std::string skipped;          ///< why nothing was absorbed ("" when it was applied)
};

/// Absorbs high biases for every pair of `plan.absorbable` in `layers` (the equalized layers,
/// batch norms folded). `summary` gives the cumulative factors. Gamma and beta come from the
/// model (read from its file when it was loaded without them); throws Error naming the file on a
/// read failure.
std::vector<AbsorbedBias> absorbHighBias(const Model& model, const RunPlan& plan,
                                         const Summary& summary, std::vector<Layer>& layers);

}  // namespace cle::core
