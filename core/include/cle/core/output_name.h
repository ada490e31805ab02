#pragma once
// The output file's name must let it be read back as the format it holds.
#include <string>

namespace cle::core {

/// Throws a usage Error when `output` would hold an ONNX model without the suffix `.onnx`, or an
/// HDF5-based file with it: ONNX models are recognised by that suffix, so such a file could not
/// be opened again (`cle inspect`, `cle verify`).
void checkOutputSuffix(const std::string& input, const std::string& output);

}  // namespace cle::core
