#pragma once
// Small ONNX models built with ONNX's protobuf API for the tests.
#include <onnx/onnx_pb.h>

#include <Eigen/Core>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace cle::test {

class OnnxBuilder {
public:
    explicit OnnxBuilder(int opset = 13) {
        model_.set_ir_version(7);
        model_.set_producer_name("cle-tests");
        model_.set_doc_string("a test model");
        auto* o = model_.add_opset_import();
        o->set_domain("");
        o->set_version(opset);
        auto* meta = model_.add_metadata_props();
        meta->set_key("author");
        meta->set_value("tests");
        model_.mutable_graph()->set_name("g");
    }

    onnx::ModelProto& model() { return model_; }

    void input(const std::string& name, const std::vector<std::int64_t>& dims) {
        auto* v = model_.mutable_graph()->add_input();
        v->set_name(name);
        auto* t = v->mutable_type()->mutable_tensor_type();
        t->set_elem_type(onnx::TensorProto::FLOAT);
        for (auto d : dims) t->mutable_shape()->add_dim()->set_dim_value(d);
    }
    void output(const std::string& name) {
        auto* v = model_.mutable_graph()->add_output();
        v->set_name(name);
        v->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
        v->mutable_type()->mutable_tensor_type()->mutable_shape();
    }

    /// Values uniform in [lo, hi] from a seeded generator.
    static std::vector<float> random(size_t n, unsigned seed, float lo = -1, float hi = 1) {
        std::mt19937 gen(seed);
        std::uniform_real_distribution<float> d(lo, hi);
        std::vector<float> v(n);
        for (auto& x : v) x = d(gen);
        return v;
    }

    /// A float tensor: raw_data (float32 or float16) or float_data.
    static onnx::TensorProto tensor(const std::string& name, const std::vector<std::int64_t>& dims,
                                    const std::vector<float>& values, bool half = false,
                                    bool raw = true) {
        onnx::TensorProto t;
        t.set_name(name);
        for (auto d : dims) t.add_dims(d);
        t.set_data_type(half ? onnx::TensorProto::FLOAT16 : onnx::TensorProto::FLOAT);
        if (half) {
            std::string bytes;
            for (float v : values) {
                auto bits = Eigen::numext::bit_cast<std::uint16_t>(Eigen::half(v));
                bytes.push_back(char(bits & 0xff));
                bytes.push_back(char(bits >> 8));
            }
            t.set_raw_data(bytes);
        } else if (raw) {
            t.set_raw_data(
                std::string(reinterpret_cast<const char*>(values.data()), values.size() * 4));
        } else {
            for (float v : values) t.add_float_data(v);
        }
        return t;
    }

    void init(const std::string& name, const std::vector<std::int64_t>& dims,
              const std::vector<float>& values, bool half = false, bool raw = true) {
        *model_.mutable_graph()->add_initializer() = tensor(name, dims, values, half, raw);
    }
    /// The same as the value of a Constant node.
    void constant(const std::string& name, const std::vector<std::int64_t>& dims,
                  const std::vector<float>& values, bool half = false) {
        auto& n = node("Constant", name + "_node", {}, {name});
        auto* a = n.add_attribute();
        a->set_name("value");
        a->set_type(onnx::AttributeProto::TENSOR);
        *a->mutable_t() = tensor(name, dims, values, half);
    }

    onnx::NodeProto& node(const std::string& op, const std::string& name,
                          const std::vector<std::string>& inputs,
                          const std::vector<std::string>& outputs) {
        auto* n = model_.mutable_graph()->add_node();
        n->set_op_type(op);
        n->set_name(name);
        for (const auto& i : inputs) n->add_input(i);
        for (const auto& o : outputs) n->add_output(o);
        return *n;
    }
    static void attr(onnx::NodeProto& n, const std::string& name, std::int64_t v) {
        auto* a = n.add_attribute();
        a->set_name(name);
        a->set_type(onnx::AttributeProto::INT);
        a->set_i(v);
    }
    static void attr(onnx::NodeProto& n, const std::string& name, float v) {
        auto* a = n.add_attribute();
        a->set_name(name);
        a->set_type(onnx::AttributeProto::FLOAT);
        a->set_f(v);
    }
    static void attr(onnx::NodeProto& n, const std::string& name,
                     const std::vector<std::int64_t>& v) {
        auto* a = n.add_attribute();
        a->set_name(name);
        a->set_type(onnx::AttributeProto::INTS);
        for (auto x : v) a->add_ints(x);
    }

    /// Conv node `name` reading `in`, with weights `name.weight` [out, in/groups, k, k] and a
    /// bias `name.bias` unless `bias` is false.
    void conv(const std::string& name, const std::string& in, const std::string& out,
              std::int64_t cout, std::int64_t cin, std::int64_t k, unsigned seed,
              std::int64_t groups = 1, bool bias = true, bool asConstant = false,
              bool half = false) {
        const std::vector<std::int64_t> dims{cout, cin / groups, k, k};
        auto w = random(size_t(cout * (cin / groups) * k * k), seed);
        for (size_t i = 0; i < w.size(); ++i)
            w[i] *= float(1 + (i / size_t(k * k * (cin / groups))) % 5) * 0.7f;
        if (asConstant)
            constant(name + ".weight", dims, w, half);
        else
            init(name + ".weight", dims, w, half);
        std::vector<std::string> inputs{in, name + ".weight"};
        if (bias) {
            init(name + ".bias", {cout}, random(size_t(cout), seed + 100, -0.2f, 0.2f));
            inputs.push_back(name + ".bias");
        }
        auto& n = node("Conv", name, inputs, {out});
        attr(n, "kernel_shape", std::vector<std::int64_t>{k, k});
        attr(n, "pads", std::vector<std::int64_t>{k / 2, k / 2, k / 2, k / 2});
        if (groups > 1) attr(n, "group", groups);
    }

    void save(const std::string& path) const {
        std::ofstream out(path, std::ios::binary);
        model_.SerializeToOstream(&out);
    }

private:
    onnx::ModelProto model_;
};

inline onnx::ModelProto readOnnx(const std::string& path) {
    onnx::ModelProto m;
    std::ifstream in(path, std::ios::binary);
    m.ParseFromIstream(&in);
    return m;
}

}  // namespace cle::test
