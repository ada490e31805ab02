#pragma once
// Weights as the output file will hold them: the export writes every dataset in its own type, so
// a check of the equalized network must see the values after that rounding.
#include <string>
#include <vector>

#include "cle/core/model.h"

namespace cle::core {

/// Rounds every layer's weights and bias to the type its dataset stores (float16 and bfloat16 to
/// nearest even, as the export writes them; float32 and float64 keep their values). A bias the
/// layer had not (one a folded batch norm gave it) is stored in the batch norm's beta, taken to
/// have the weights' type.
void roundToStorage(std::vector<Layer>& layers);

/// The narrowest storage type below float32 among the layers' weights and biases ("float16",
/// "bfloat16"), "" when every value is stored in float32 or wider.
std::string narrowStorage(const std::vector<Layer>& layers);

}  // namespace cle::core
