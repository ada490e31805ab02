#pragma once
// The compiler of ONNX graphs into the evaluator's program (see onnx_compile.h), shared by the
// files that compile its ops.
#include <algorithm>
#include <map>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "cle/core/error.h"
#include "cle/core/model.h"
#include "eval/onnx_values.h"
#include "formats/onnx/onnx_graph.h"
#include "program.h"

namespace cle::core::eval {

using onnxfmt::attrInt;
using onnxfmt::attrInts;
using onnxfmt::attrString;
using onnxfmt::Node;
using Order = std::vector<int>;

/// The most values one sample of any tensor may hold (256 MB of float32): a crafted shape is
/// refused before anything of its size is allocated.
inline constexpr std::int64_t kMaxSampleValues = std::int64_t(1) << 26;

inline Order identityOrder(size_t rank) {
    Order o(rank > 0 ? rank - 1 : 0);
    std::iota(o.begin(), o.end(), 1);
    return o;
}

// Channels (ONNX axis 1) last: [2, 3, ..., 1].
inline Order channelsLast(size_t rank) {
    Order o = identityOrder(rank);
    if (o.size() > 1) std::rotate(o.begin(), o.begin() + 1, o.end());
    return o;
}

class OnnxCompiler {
public:
    OnnxCompiler(const std::string& path, const Model& model, const NetworkOptions& options,
                 Program& p)
        : path_(path),
          model_(model),
          options_(options),
          file_(onnxfmt::OnnxFile::open(path)),
          g_(*file_),
          p_(p) {}

    void run();

private:
    [[noreturn]] void fail(const Node& n, const std::string& why) const {
        throw inputError("node '" + n.name + "' (" + n.op + ") of '" + path_ +
                         "' cannot be evaluated: " + why);
    }
    const OnnxValue* find(const std::string& name);
    const OnnxValue& input(const Node& n, size_t k);
    OnnxValue emit(Op op, const std::vector<const OnnxValue*>& in, Order order);
    OnnxValue arrange(const OnnxValue& v, const Order& order, const Node& n);
    OnnxValue materialise(const OnnxValue& v, const Order& order, const Node& n);
    void node(const Node& n);
    bool simple(const Node& n, const OnnxValue& x, OnnxValue& out);
    OnnxValue conv(const Node& n);
    OnnxValue dense(const Node& n);
    OnnxValue batchNorm(const Node& n);
    OnnxValue pool(const Node& n);
    OnnxValue padding(const Node& n);
    OnnxValue merge(const Node& n);
    OnnxValue concat(const Node& n);
    OnnxValue reshape(const Node& n, std::vector<std::int64_t> target);
    OnnxValue resize(const Node& n);
    /// The layer `name`: the run's result when it holds it (NetworkOptions::layers), else the
    /// model's.
    const Layer* layer(const std::string& name) const;
    Tensor weights(const Node& n, bool bias) const;
    std::vector<double> biasOf(const Node& n, const OnnxValue& stored) const;
    bool relaxed(const Node& n) const {
        const auto& r = options_.relaxedRelu6;
        return std::find(r.begin(), r.end(), n.name) != r.end();
    }

    const std::string& path_;
    const Model& model_;
    const NetworkOptions& options_;
    std::shared_ptr<const onnxfmt::OnnxFile> file_;
    onnxfmt::Graph g_;
    Program& p_;
    std::map<std::string, OnnxValue> values_;
    std::vector<Tensor> dry_;  ///< one sample of zeros through the program: every slot's shape
};

}  // namespace cle::core::eval
