#pragma once
// Pair groups as the application shows and suggests them.
#include <QString>

#include "cle/core/pairs.h"

namespace cle::ui {

/// "a → b → c".
QString displayText(const core::Group& group);
/// "a,b,c;d,e" (the `--pairs` syntax).
QString pairsText(const std::vector<core::Group>& groups);

/// Why `name` cannot be appended to `chain` (empty chain: why it cannot start one), or empty.
QString appendProblem(const core::ModelInfo& model, const core::Group& chain,
                      const std::string& name);

}  // namespace cle::ui
