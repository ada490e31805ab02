#pragma once
// Reading and writing floating-point datasets of any width as float32, with our own conversions
// where HDF5's would be wrong (float16 ties and overflow, float64 overflow).
#include <hdf5.h>

#include <optional>
#include <string>
#include <vector>

#include "cle/core/dtype.h"
#include "cle/core/tensor.h"

namespace cle::core::io {

/// The storage type of a floating-point dataset, or nullopt for any other class or layout
/// (integers, strings, compounds, unusual float formats).
std::optional<DType> floatType(hid_t dataset);

/// Reads the whole dataset as float32. `where` names file and dataset in error messages.
std::vector<float> readFloats(hid_t dataset, DType dtype, const std::string& where);

/// Writes `values` into the dataset, converted to `dtype` with round-to-nearest-even. A value that
/// does not fit the type is an Error naming `where`, never a silent inf.
void writeFloats(hid_t dataset, DType dtype, const std::vector<float>& values,
                 const std::string& where);

/// Reads `dataset` of the open `file` as a float32 tensor; `fileName` is for messages.
Tensor readTensor(hid_t file, const std::string& dataset, const std::string& fileName);

}  // namespace cle::core::io
