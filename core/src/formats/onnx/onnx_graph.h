#pragma once
// The node graph of an ONNX model (producers and consumers of every tensor) and its layers with
// weights: Conv (also depthwise and grouped), Gemm, MatMul with a constant weight, ConvTranspose.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "cle/core/weight_file.h"
#include "formats/onnx/onnx_file.h"

namespace cle::core::onnxfmt {

struct Node {
    const onnx::NodeProto* proto = nullptr;
    std::string name;  ///< the node's name, else its first output's (unique in the graph)
    std::string op;    ///< op_type; "domain:op" for other domains
    std::vector<std::string> inputs;  ///< tensor names ("" for a left-out optional input)
    std::vector<std::string> outputs;
    std::string layer;  ///< the layer with weights this node is, as listed ("" for none)
    /// An Add that adds the bias of MatMul layer `biasOf` (its LayerInfo::biasPath) to that
    /// layer's output ("" for any other node).
    std::string biasOf;
};

class Graph {
public:
    explicit Graph(const OnnxFile& file);

    const OnnxFile& file() const { return file_; }
    const std::vector<Node>& nodes() const { return nodes_; }
    /// The node producing `tensor`, or -1 (graph inputs, initializers).
    int producer(const std::string& tensor) const;
    /// The nodes reading `tensor`, one entry per reading input.
    const std::vector<int>& consumers(const std::string& tensor) const;
    bool isGraphOutput(const std::string& tensor) const { return outputs_.count(tensor) > 0; }
    /// A node other than `node` that reads `tensor` (by name; "a model output" when it is one),
    /// or "" when `node` alone reads it: a stored tensor read elsewhere cannot be rewritten.
    std::string otherReader(const std::string& tensor, int node) const;
    /// The model's default-domain opset version (1 when absent).
    long opset() const { return opset_; }
    /// The layers with weights in node order, each naming its node (by Node::layer).
    const std::vector<LayerInfo>& layers() const { return layers_; }
    /// The node of layer `name`, or -1.
    int nodeOfLayer(const std::string& name) const;
    /// The node named `name`, or -1.
    int find(const std::string& name) const;
    /// Why the output channels of layer `name` cannot be scaled although it has no bias that
    /// stops it: a MatMul whose following Add adds a constant that cannot be taken as its bias
    /// (read elsewhere too, or not one value per output channel). Nothing otherwise.
    std::optional<std::string> outputProblem(const std::string& name) const;

private:
    void addLayer(int index);
    void addMatMulBias(int index, LayerInfo& l);
    void checkOrder() const;
    void markSharedStorage();

    const OnnxFile& file_;
    std::vector<Node> nodes_;
    std::unordered_map<std::string, int> producer_, byName_, layerNode_;
    std::unordered_map<std::string, int> biasNode_;  ///< layer -> the Add reading its bias
    std::map<std::string, std::string> outputProblems_;
    std::unordered_map<std::string, std::vector<int>> consumers_;
    std::map<std::string, int> outputs_;
    long opset_ = 1;
    std::vector<LayerInfo> layers_;
};

/// Attribute values of a node, `fallback` when absent.
long attrInt(const onnx::NodeProto& n, const std::string& name, long fallback);
float attrFloat(const onnx::NodeProto& n, const std::string& name, float fallback);
std::string attrString(const onnx::NodeProto& n, const std::string& name,
                       const std::string& fallback);
std::optional<std::vector<std::int64_t>> attrInts(const onnx::NodeProto& n,
                                                  const std::string& name);
bool hasAttr(const onnx::NodeProto& n, const std::string& name);

/// The model's layers as `cle inspect` lists them (Format::Onnx).
ModelInfo inspect(const std::string& path);

}  // namespace cle::core::onnxfmt
