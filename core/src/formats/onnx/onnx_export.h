#pragma once
// The equalized copy of an ONNX model: only the changed tensors (initializers or Constant values)
// rewritten in their own type and storage, relaxed ReLU6 Clips without their max, every other
// field (node order, names, opset, metadata, doc strings) as it was.
#include <string>
#include <utility>
#include <vector>

#include "cle/core/exporter.h"

namespace cle::core::onnxfmt {

struct EditedModel {
    std::string model;  ///< the serialized model, which passes onnx::checker::check_model
    struct DataFile {
        std::string destination;  ///< beside the output
        std::string bytes;
        std::string source;  ///< the input's data file it is a copy of
    };
    /// External data files to write beside the output.
    std::vector<DataFile> dataFiles;
};

/// Edits a copy of `input` for the destination `output`. External data files are named after
/// the output (`OUT.onnx.data`, `OUT.onnx.data1`, ...) and the model's locations name them.
/// Throws an input Error naming the tensor for a changed shape, a value the tensor's type cannot
/// hold, or a result ONNX's checker refuses.
EditedModel editModel(const std::string& input, const std::vector<Layer>& layers,
                      const ExportExtras& extras, const std::string& output);

}  // namespace cle::core::onnxfmt
