#include "formats/onnx/onnx_export.h"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <Eigen/Core>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "cle/core/error.h"
#include "formats/onnx/onnx_file.h"
#include "formats/onnx/onnx_graph.h"

namespace cle::core::onnxfmt {

namespace {

namespace fs = std::filesystem;
using onnx::TensorProto;

template <typename Half>
std::uint16_t halfBits(float v, const std::string& where, const char* type) {
    Half h(v);  // round to nearest even
    if (std::isinf(static_cast<float>(h)) && !std::isinf(v))
        throw inputError("value " + std::to_string(v) + " of " + where + " does not fit in " +
                         type);
    return Eigen::numext::bit_cast<std::uint16_t>(h);
}

void putLittleEndian(std::string& out, std::uint64_t v, int size) {
    for (int i = 0; i < size; ++i) out.push_back(char((v >> (8 * i)) & 0xff));
}

// The values in the tensor's own type as little-endian bytes (raw_data and external data).
std::string encode(int type, const std::vector<float>& values, const std::string& where) {
    std::string out;
    out.reserve(values.size() * size_t(elementSize(type)));
    for (float v : values) {
        switch (type) {
            case TensorProto::FLOAT: {
                std::uint32_t b;
                std::memcpy(&b, &v, 4);
                putLittleEndian(out, b, 4);
                break;
            }
            case TensorProto::DOUBLE: {
                double d = v;
                std::uint64_t b;
                std::memcpy(&b, &d, 8);
                putLittleEndian(out, b, 8);
                break;
            }
            case TensorProto::FLOAT16:
                putLittleEndian(out, halfBits<Eigen::half>(v, where, "float16"), 2);
                break;
            case TensorProto::BFLOAT16:
                putLittleEndian(out, halfBits<Eigen::bfloat16>(v, where, "bfloat16"), 2);
                break;
            default:
                throw inputError(where + " is not a floating-point tensor");
        }
    }
    return out;
}

class Editor {
public:
    Editor(const std::string& input, const std::string& output)
        : file_(input), output_(output), model_(file_.model()) {
        for (auto& t : *model_.mutable_graph()->mutable_initializer()) tensors_[t.name()] = &t;
        for (auto& n : *model_.mutable_graph()->mutable_node())
            if (n.op_type() == "Constant" && n.domain().empty() && n.output_size() == 1)
                for (auto& a : *n.mutable_attribute())
                    if (a.name() == "value" && a.has_t())
                        tensors_.emplace(n.output(0), a.mutable_t());
    }

    void set(const std::string& name, const Tensor& values, const std::string& subject);
    void relax(const std::vector<std::string>& clips);
    EditedModel finish();

private:
    OnnxFile file_;  // the input, parsed again: the export reads the file it copies
    std::string output_;
    onnx::ModelProto model_;
    std::map<std::string, TensorProto*> tensors_;
    std::map<std::string, std::string> external_;  ///< input data file -> its edited bytes
    std::map<std::string, std::string> location_;  ///< input data file -> output location
};

void Editor::set(const std::string& name, const Tensor& values, const std::string& subject) {
    auto it = tensors_.find(name);
    if (it == tensors_.end()) throw inputError("'" + output_ + "' has no tensor '" + name + "'");
    TensorProto& t = *it->second;
    if (file_.dims(t) != values.shape) throw inputError(subject + " changed shape");
    if (t.data_location() == TensorProto::EXTERNAL) {
        const std::string path = file_.externalPath(t);
        auto [offset, length] = file_.externalRange(t);
        std::string bytes = encode(t.data_type(), values.values, subject);
        if (!external_.count(path)) {
            std::ifstream in(path, std::ios::binary);
            external_[path].assign(std::istreambuf_iterator<char>(in), {});
            if (in.bad()) throw inputError("cannot read the external data file '" + path + "'");
        }
        std::string& data = external_[path];
        if (std::uint64_t(offset) + bytes.size() > data.size())
            throw inputError(subject + " lies beyond the end of '" + path + "'");
        data.replace(size_t(offset), bytes.size(), bytes);
        (void)length;
        return;
    }
    if (t.has_raw_data()) {
        t.set_raw_data(encode(t.data_type(), values.values, subject));
        return;
    }
    switch (t.data_type()) {
        case TensorProto::FLOAT:
            t.clear_float_data();
            for (float v : values.values) t.add_float_data(v);
            break;
        case TensorProto::DOUBLE:
            t.clear_double_data();
            for (float v : values.values) t.add_double_data(v);
            break;
        case TensorProto::FLOAT16:
        case TensorProto::BFLOAT16: {
            t.clear_int32_data();
            const bool half = t.data_type() == TensorProto::FLOAT16;
            for (float v : values.values)
                t.add_int32_data(half ? halfBits<Eigen::half>(v, subject, "float16")
                                      : halfBits<Eigen::bfloat16>(v, subject, "bfloat16"));
            break;
        }
        default:
            throw inputError(subject + " is not a floating-point tensor");
    }
}

// A relaxed ReLU6 keeps its node and name and loses its upper bound: Clip(x, 0) is a ReLU.
void Editor::relax(const std::vector<std::string>& clips) {
    Graph g(file_);
    for (size_t i = 0; i < g.nodes().size(); ++i) {
        const Node& n = g.nodes()[i];
        if (n.op != "Clip" || std::find(clips.begin(), clips.end(), n.name) == clips.end())
            continue;
        onnx::NodeProto& p = *model_.mutable_graph()->mutable_node(int(i));
        if (g.opset() < 11) {
            auto* attrs = p.mutable_attribute();
            for (int k = attrs->size() - 1; k >= 0; --k)
                if (attrs->Get(k).name() == "max") attrs->DeleteSubrange(k, 1);
        } else if (p.input_size() > 2) {
            p.mutable_input()->RemoveLast();  // max is the last input
        }
    }
}

EditedModel Editor::finish() {
    EditedModel out;
    // Every external data file of the model goes beside the output under a name of its own.
    const std::string base = fs::path(output_).filename().string();
    const fs::path dir = fs::path(output_).parent_path();
    for (auto& [name, t] : tensors_) {
        if (t->data_location() != TensorProto::EXTERNAL) continue;
        const std::string path = file_.externalPath(*t);
        if (!location_.count(path)) {
            std::string loc =
                base + ".data" + (location_.empty() ? "" : std::to_string(location_.size()));
            location_[path] = loc;
            if (!external_.count(path)) {
                std::ifstream in(path, std::ios::binary);
                external_[path].assign(std::istreambuf_iterator<char>(in), {});
            }
            out.dataFiles.push_back({(dir / loc).string(), external_[path], path});
        }
        for (auto& e : *t->mutable_external_data())
            if (e.key() == "location") e.set_value(location_[path]);
    }
    // The checker reads external data relative to the model's folder, where the output's files
    // do not exist yet: it checks a copy holding those bytes in place.
    onnx::ModelProto checked = model_;
    auto inPlace = [&](TensorProto& t) {
        if (t.data_location() != TensorProto::EXTERNAL) return;
        std::int64_t bytes = elementSize(t.data_type());
        for (auto d : file_.dims(t)) bytes *= d;
        std::string path;
        for (const auto& [input, loc] : location_)
            for (const auto& e : t.external_data())
                if (e.key() == "location" && e.value() == loc) path = input;
        const std::string& data = external_[path];
        const auto offset = size_t(file_.externalRange(t).first);
        if (offset + size_t(bytes) > data.size())
            throw inputError("tensor '" + t.name() + "' lies beyond the end of its external data");
        t.set_raw_data(data.substr(offset, size_t(bytes)));
        t.clear_external_data();
        t.set_data_location(TensorProto::DEFAULT);
    };
    for (auto& t : *checked.mutable_graph()->mutable_initializer()) inPlace(t);
    for (auto& n : *checked.mutable_graph()->mutable_node())
        for (auto& a : *n.mutable_attribute())
            if (a.has_t()) inPlace(*a.mutable_t());
    try {
        onnx::checker::check_model(checked);
    } catch (const std::exception& e) {
        std::string what = e.what();
        what = what.substr(0, what.find('\n'));
        bool original = true;
        try {
            onnx::checker::check_model(file_.model());
        } catch (const std::exception&) {
            original = false;
        }
        throw inputError("the equalized copy of '" + file_.path() +
                         "' does not pass ONNX's checker" +
                         (original ? "" : " (nor does the input itself)") + ": " + what);
    }
    if (!model_.SerializeToString(&out.model))
        throw inputError("cannot serialize the equalized copy of '" + file_.path() + "'");
    return out;
}

}  // namespace

EditedModel editModel(const std::string& input, const std::vector<Layer>& layers,
                      const ExportExtras& extras, const std::string& output) {
    Editor e(input, output);
    for (const auto& l : layers) {
        e.set(l.info.weightPath, l.weight,
              "the equalized weights of layer '" + l.info.name + "' (tensor " + l.info.weightPath +
                  ")");
        if (l.bias && l.info.hasBias())
            e.set(l.info.biasPath, *l.bias,
                  "the equalized bias of layer '" + l.info.name + "' (tensor " + l.info.biasPath +
                      ")");
    }
    for (const auto& [name, values] : extras.datasets)
        e.set(name, values, "the folded batch-norm tensor " + name);
    e.relax(extras.relaxedNodes);
    return e.finish();
}

}  // namespace cle::core::onnxfmt
