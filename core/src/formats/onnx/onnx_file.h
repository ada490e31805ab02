#pragma once
// An ONNX model file read through ONNX's own protobuf types: its tensors (graph initializers,
// Constant nodes' values, external data files beside the model) as numbers, with every size the
// file claims checked against the bytes it holds.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "cle/core/tensor.h"
#include "cle/core/weight_file.h"

namespace onnx {
class ModelProto;
class TensorProto;
class NodeProto;
}  // namespace onnx

namespace cle::core::onnxfmt {

/// True when `path` names an ONNX model (the suffix `.onnx`, any case).
bool isOnnxPath(const std::string& path);

class OnnxFile {
public:
    /// Parses `path`. Throws an input Error naming the file when it cannot be read or is not an
    /// ONNX model.
    explicit OnnxFile(const std::string& path);
    ~OnnxFile();
    /// The parsed file at `path`, shared while its identity (size, time, inode) is unchanged.
    static std::shared_ptr<const OnnxFile> open(const std::string& path);

    const std::string& path() const { return path_; }
    const onnx::ModelProto& model() const { return *model_; }
    /// The tensor named `name`: a graph initializer or the value of a Constant node; nullptr
    /// when there is none.
    const onnx::TensorProto* tensor(const std::string& name) const;
    /// The Constant node producing `name`, or nullptr.
    const onnx::NodeProto* constantNode(const std::string& name) const;

    /// The float type of `t`, or nothing for other element types.
    static std::optional<DType> floatType(const onnx::TensorProto& t);
    /// The dimensions of `t`; an error for negative ones or a count beyond 2^62.
    std::vector<std::int64_t> dims(const onnx::TensorProto& t) const;
    /// Why `t`'s values cannot be read (bytes that do not match its dimensions, an external file
    /// outside the model's folder), or nothing.
    std::optional<std::string> storageProblem(const onnx::TensorProto& t) const;
    /// The values of `t` (float16/32/64, bfloat16, int8 to int64, bool) as float32 in row-major
    /// order. Throws an input Error naming the file and tensor.
    Tensor read(const onnx::TensorProto& t) const;
    /// The same as doubles (shapes and indices stay exact).
    std::vector<double> numbers(const onnx::TensorProto& t) const;
    /// read() of the tensor named `name`. Throws when there is none.
    Tensor read(const std::string& name) const;

    /// The external data file of `t` as a path inside the model's folder; throws for locations
    /// that leave it (absolute paths, `..`, links pointing elsewhere).
    std::string externalPath(const onnx::TensorProto& t) const;
    /// The byte range of `t` in its external file: offset and length.
    std::pair<std::int64_t, std::int64_t> externalRange(const onnx::TensorProto& t) const;

private:
    std::string bytesOf(const onnx::TensorProto& t, std::int64_t expected) const;

    std::string path_;
    std::unique_ptr<onnx::ModelProto> model_;
    std::unordered_map<std::string, const onnx::TensorProto*> tensors_;
    std::unordered_map<std::string, const onnx::NodeProto*> constants_;
};

/// The size in bytes of one element of ONNX data type `type`; 0 for types not read here.
int elementSize(int type);

}  // namespace cle::core::onnxfmt
