#pragma once
// The storage types of weights.
#include <string>

namespace cle::core {

/// Storage type of a dataset. Computation is always float32.
enum class DType { Float16, BFloat16, Float32, Float64 };

std::string toString(DType d);

}  // namespace cle::core
