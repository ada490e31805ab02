#include "cle/core/output_name.h"

#include "cle/core/error.h"
#include "formats/onnx/onnx_file.h"

namespace cle::core {

void checkOutputSuffix(const std::string& input, const std::string& output) {
    const bool onnxIn = onnxfmt::isOnnxPath(input), onnxOut = onnxfmt::isOnnxPath(output);
    if (onnxIn && !onnxOut)
        throw usageError("output '" + output + "' would hold an ONNX model (the input '" + input +
                         "' is one); give it the suffix .onnx, by which ONNX models are "
                         "recognised");
    if (!onnxIn && onnxOut)
        throw usageError("output '" + output + "' would hold a copy of '" + input +
                         "', which is not an ONNX model; the suffix .onnx names ONNX models only");
}

}  // namespace cle::core
