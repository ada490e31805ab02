#pragma once
// Pair groups as the application shows and suggests them.
#include <QString>

#include "cle/core/pairs.h"
#include "cle/core/topology.h"

namespace cle::ui {

/// "a → b → c".
QString displayText(const core::Group& group);
/// "a,b,c;d,e" (the `--pairs` syntax).
QString pairsText(const std::vector<core::Group>& groups);

/// Why `name` cannot be appended to `chain` (empty chain: why it cannot start one), or empty.
/// With a topology the pair is checked as `cle pairs` checks it (branches, residual Adds,
/// ReLU6 unless `allowRelu6`, batch norms that cannot be folded), not only by channel counts.
QString appendProblem(const core::ModelInfo& model, const core::Group& chain,
                      const std::string& name, const core::Topology* topology = nullptr,
                      bool allowRelu6 = false);

}  // namespace cle::ui
