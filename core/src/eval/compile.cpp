// From a Keras model_config and a Model's weights to the evaluator's program.
#include <algorithm>
#include <cmath>
#include <set>

#include "cle/core/error.h"
#include "cle/core/model.h"
#include "eval/onnx_compile.h"
#include "eval/storage.h"
#include "formats/formats.h"
#include "formats/keras_config.h"
#include "formats/open_input.h"
#include "graph/keras_graph.h"
#include "hdf5/h5.h"
#include "program.h"

namespace cle::core::eval {

namespace {

using keras::Node;
using nlohmann::json;

std::array<long, 2> pairOf(const json& cfg, const std::string& key, long fallback, bool oneD) {
    if (!cfg.contains(key) || cfg[key].is_null()) return {oneD ? 1 : fallback, fallback};
    const json& v = cfg[key];
    if (v.is_number()) return {oneD ? 1 : v.get<long>(), v.get<long>()};
    if (v.is_array() && v.size() == 1) return {1, v[0].get<long>()};
    if (v.is_array() && v.size() == 2) return {v[0].get<long>(), v[1].get<long>()};
    throw inputError("config entry '" + key + "' is not one or two integers");
}

bool startsWith(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

std::vector<float> readVector(Storage& storage, const std::string& path, size_t n, float fallback) {
    if (path.empty()) return std::vector<float>(n, fallback);
    return storage.read(path).values;
}

// False for a layer listed without its weights (one that cannot be equalized).
bool hasData(const Layer& l) { return std::int64_t(l.weight.values.size()) == l.weight.size(); }

class Compiler {
public:
    /// `dry`: only asks `storage` what a compile asks (eval::recordStorage); builds nothing.
    Compiler(const std::string& path, const Model& model, const NetworkOptions& options,
             Storage& storage, Program& p, bool dry = false)
        : path_(path),
          model_(model),
          options_(options),
          storage_(storage),
          root_(storage.root()),
          keras3_(model.info.format == Format::Keras3),
          dry_(dry),
          p_(p) {}

    /// Compiles `g`; `inputs` feed its input layers (top level: empty, new program inputs).
    /// Keras 3: `storage` is the group holding g's layers and `listed` g's name as listed.
    std::vector<int> graph(const keras::Graph& g, const std::string& prefix,
                           const std::string& storage, const std::vector<int>& inputs,
                           const std::string& listed = "");

private:
    int node(const keras::Graph& g, const Node& n, const std::string& prefix,
             const std::string& storage, const std::vector<int>& inputs,
             std::map<std::string, int>& slots, std::set<std::string>& visiting);
    int input(const Node& n, const std::string& prefix, const std::vector<int>& inputs,
              size_t& used);
    Op layer(const Node& n, const std::string& storage);
    void weighted(const Node& n, const std::string& storage, Op& op);
    void window(const Node& n, Op& op);
    bool simple(const Node& n, Op& op);
    void batchNorm(const Node& n, const std::string& storage, Op& op);
    Layer weights(const std::string& name, const Node& n) const;
    const keras::Keras3Place& place(const Node& n) const {
        auto it = places_.find(&n);
        if (it == places_.end())
            throw inputError("layer '" + n.name + "' has no place in the weights of '" + path_ +
                             "'");
        return it->second;
    }
    bool relaxed(const Node& n) const {
        const auto& r = options_.relaxedRelu6;
        return std::find(r.begin(), r.end(), n.name) != r.end();
    }

    const std::string& path_;
    const Model& model_;
    const NetworkOptions& options_;
    Storage& storage_;
    std::string root_;
    bool keras3_;
    bool dry_;
    std::map<const Node*, keras::Keras3Place> places_;  ///< Keras 3: where each layer is stored
    Program& p_;
};

std::vector<int> Compiler::graph(const keras::Graph& g, const std::string& prefix,
                                 const std::string& storage, const std::vector<int>& inputs,
                                 const std::string& listed) {
    if (keras3_)
        for (const auto& [name, place] : storage_.places(g, storage, listed))
            places_[g.find(name)] = place;
    std::map<std::string, int> slots;
    std::set<std::string> visiting;
    size_t used = 0;
    for (const auto& n : g.nodes())  // input layers first, in config order
        if (n.cls == "InputLayer") slots[n.name] = input(n, prefix, inputs, used);
    std::vector<int> outs;
    for (const auto& n : g.nodes())
        if (n.output) outs.push_back(node(g, n, prefix, storage, inputs, slots, visiting));
    if (outs.empty()) throw inputError("the model of '" + path_ + "' has no output layer");
    return outs;
}

int Compiler::input(const Node& n, const std::string& prefix, const std::vector<int>& inputs,
                    size_t& used) {
    if (!prefix.empty()) {
        if (used >= inputs.size())
            throw inputError("nested model '" + prefix + "' has more inputs than it is given");
        return inputs[used++];
    }
    NetworkInput in{n.name, {}};
    for (const char* key : {"batch_input_shape", "batch_shape"})
        if (n.config.contains(key) && n.config[key].is_array()) {
            const auto& s = n.config[key];
            for (size_t i = 1; i < s.size(); ++i)
                in.shape.push_back(s[i].is_number() ? s[i].get<std::int64_t>() : -1);
            break;
        }
    p_.inputs.push_back(in);
    p_.inputSlots.push_back(p_.slots);
    return p_.slots++;
}

int Compiler::node(const keras::Graph& g, const Node& n, const std::string& prefix,
                   const std::string& storage, const std::vector<int>& inputs,
                   std::map<std::string, int>& slots, std::set<std::string>& visiting) {
    if (auto it = slots.find(n.name); it != slots.end()) return it->second;
    const std::string shown = prefix.empty() ? n.name : prefix + "/" + n.name;
    if (!visiting.insert(n.name).second)
        throw inputError("layer '" + shown + "' is part of a cycle in the layer graph");
    if (n.calls > 1)
        throw inputError("layer '" + shown + "' (" + n.cls + ") is called " +
                         std::to_string(n.calls) + " times; shared layers cannot be evaluated");
    std::vector<int> in;
    if (n.inputs.empty()) {  // a Sequential model's first layer: an implicit input
        Node implicit = n;
        implicit.name = shown + "_input";
        size_t used = 0;
        in.push_back(input(implicit, prefix, inputs, used));
    }
    for (const auto& name : n.inputs) {
        const Node* from = g.find(name);
        if (!from) throw inputError("layer '" + shown + "' reads unknown layer '" + name + "'");
        in.push_back(node(g, *from, prefix, storage, inputs, slots, visiting));
    }
    int out;
    if (n.nested) {
        if (!n.inner)
            throw inputError("nested model '" + shown + "' has a layer graph that cannot be read");
        auto outs = keras3_ ? graph(*n.inner, shown, place(n).group + "/" + storage_.container(),
                                    in, place(n).name)
                            : graph(*n.inner, shown, storage.empty() ? n.name : storage, in);
        if (outs.size() != 1) throw inputError("nested model '" + shown + "' has several outputs");
        out = outs[0];
    } else {
        Op op = layer(n, storage);
        op.name = shown;
        op.in = in;
        op.out = out = p_.slots++;
        p_.ops.push_back(std::move(op));
    }
    slots[n.name] = out;
    return out;
}

Layer Compiler::weights(const std::string& name, const Node& n) const {
    const Layer* l = nullptr;
    if (options_.layers)
        for (const auto& changed : *options_.layers)
            if (changed.info.name == name) l = &changed;
    if (!l) l = model_.find(name);
    if (!l)
        throw inputError("layer '" + n.name + "' (" + n.cls + ") has no weights '" + name +
                         "' in '" + path_ + "'");
    if (hasData(*l)) return *l;
    Layer read = *l;  // listed without its data (a layer that cannot be equalized)
    read.weight = storage_.read(l->info.weightPath);
    if (l->info.hasBias()) read.bias = storage_.read(l->info.biasPath);
    return read;
}

void Compiler::window(const Node& n, Op& op) {
    const json& c = n.config;
    op.oneD = n.cls.find("1D") != std::string::npos;
    bool pool = n.cls.find("Pool") != std::string::npos;
    op.window.kernel = pairOf(c, pool ? "pool_size" : "kernel_size", pool ? 2 : 1, op.oneD);
    op.window.stride = pairOf(c, "strides", 1, op.oneD);
    if (pool && (!c.contains("strides") || c["strides"].is_null()))
        op.window.stride = op.window.kernel;
    op.window.dilation = pairOf(c, "dilation_rate", 1, op.oneD);
    op.window.padding = c.value("padding", std::string("valid"));
    if (op.window.padding != "valid" && op.window.padding != "same" &&
        !(op.window.padding == "causal" && op.oneD))
        throw inputError("layer '" + n.name + "' (" + n.cls + ") has padding '" +
                         op.window.padding + "', which cannot be evaluated");
}

void Compiler::weighted(const Node& n, const std::string& storage, Op& op) {
    const std::string base = keras3_           ? place(n).name
                             : storage.empty() ? n.name
                                               : storage + "/" + n.name;
    if (dry_) {
        // The Model's weights are read later; a layer listed without them is read now.
        for (const char* half : {"", "/depthwise", "/pointwise"})
            if (const Layer* l = model_.find(base + half); l && !hasData(*l))
                weights(l->info.name, n);
        return;
    }
    op.activation = keras::activationOf(n);
    if (op.activation == "relu6" && relaxed(n)) op.activation = "relu";
    if (n.cls == "Dense") {
        op.kind = Kind::Dense;
    } else {
        window(n, op);
        op.groups = keras::configInt(n, "groups", 1);
        op.multiplier = keras::configInt(n, "depth_multiplier", 1);
        op.kind = n.cls == "Conv1D" || n.cls == "Conv2D" ? Kind::Conv
                  : startsWith(n.cls, "Depthwise")       ? Kind::Depthwise
                                                         : Kind::Separable;
    }
    Layer main = weights(op.kind == Kind::Separable ? base + "/depthwise" : base, n);
    op.kernel = std::move(main.weight);
    if (op.kind == Kind::Depthwise && op.oneD)
        throw inputError("layer '" + n.name + "' (" + n.cls + ") cannot be evaluated");
    if (op.kind == Kind::Separable) {
        Layer pw = weights(base + "/pointwise", n);
        op.pointwise = std::move(pw.weight);
        if (pw.bias) op.bias = pw.bias->values;
    } else if (main.bias) {
        op.bias = main.bias->values;
    }
    int rank = op.kind == Kind::Dense ? 2 : op.oneD ? 3 : 4;
    if (op.kernel.rank() != rank)
        throw inputError("layer '" + n.name + "' (" + n.cls + ") has a kernel of rank " +
                         std::to_string(op.kernel.rank()) + ", expected " + std::to_string(rank));
    if (op.kind != Kind::Dense)  // the kernel's own size, whatever the config says
        op.window.kernel =
            op.oneD ? std::array<long, 2>{1, long(op.kernel.shape[0])}
                    : std::array<long, 2>{long(op.kernel.shape[0]), long(op.kernel.shape[1])};
}

void Compiler::batchNorm(const Node& n, const std::string& storage, Op& op) {
    op.kind = Kind::BatchNorm;
    op.axis = keras::batchNormAxis(n).value_or(0);
    if (!keras::batchNormAxis(n))
        throw inputError("batch norm '" + n.name + "' normalizes several axes");
    const auto& ids = options_.identityNorms;
    if (std::find(ids.begin(), ids.end(), n.name) != ids.end()) {
        op.kind = Kind::Identity;
        return;
    }
    std::string group =
        keras3_ ? place(n).group
                : (root_ == "/" ? "" : root_) + "/" + (storage.empty() ? n.name : storage);
    std::string why;
    auto ref = storage_.batchNorm(group, n, &why);
    if (!ref) throw inputError(why);
    if (dry_) return;  // the vectors are among Model::parameters
    auto mean = storage_.read(ref->meanPath).values;
    auto var = readVector(storage_, ref->varPath, mean.size(), 1.f);
    auto gamma = readVector(storage_, ref->gammaPath, mean.size(), 1.f);
    auto beta = readVector(storage_, ref->betaPath, mean.size(), 0.f);
    if (var.size() != mean.size() || gamma.size() != mean.size() || beta.size() != mean.size())
        throw inputError("batch norm '" + n.name + "' has parameters of different sizes");
    for (size_t c = 0; c < mean.size(); ++c) {
        double s = double(gamma[c]) / std::sqrt(double(var[c]) + ref->epsilon);
        op.scale.push_back(float(s));
        op.shift.push_back(float(double(beta[c]) - double(mean[c]) * s));
    }
}

Op Compiler::layer(const Node& n, const std::string& storage) {
    Op op;
    op.cls = n.cls;
    const std::string fmt = n.config.value("data_format", std::string("channels_last"));
    if (fmt == "channels_first")
        throw inputError("layer '" + n.name + "' (" + n.cls +
                         ") uses channels_first, which cannot be evaluated");
    static const std::set<std::string> convs = {"Conv1D", "Conv2D", "DepthwiseConv2D",
                                                "SeparableConv2D", "Dense"};
    if (convs.count(n.cls))
        weighted(n, storage, op);
    else if (n.cls == "BatchNormalization")
        batchNorm(n, storage, op);
    else if (n.cls == "PReLU") {
        op.kind = Kind::PRelu;
        std::map<std::string, std::string> vars;
        if (keras3_ && storage_.isDataset(place(n).group + "/vars/0"))
            vars["alpha"] = place(n).group + "/vars/0";
        else if (!keras3_)
            vars = storage_.variables(
                (root_ == "/" ? "" : root_) + "/" + (storage.empty() ? n.name : storage), n);
        if (!vars.count("alpha"))
            throw inputError("PReLU '" + n.name + "' has no alpha in the file");
        op.scale = storage_.read(vars["alpha"]).values;
    } else if (!simple(n, op))
        throw inputError("layer '" + n.name + "' is of class '" + n.cls +
                         "', which the evaluator does not support");
    return op;
}

}  // namespace

bool simpleLayer(const Node& n, Op& op, bool relaxed);

bool Compiler::simple(const Node& n, Op& op) {
    if (n.cls.find("Pooling") != std::string::npos && !startsWith(n.cls, "Global")) window(n, op);
    return simpleLayer(n, op, relaxed(n));
}

Program compile(const std::string& path, const Model& model, const NetworkOptions& options) {
    if (model.info.format == Format::Onnx) return compileOnnx(path, model, options);
    if (model.info.format != Format::Keras2 && model.info.format != Format::Keras3)
        throw inputError("'" + path + "' is not a Keras file with a layer graph, so its " +
                         "network cannot be evaluated");
    h5::Silence quiet;
    // The model_config parsed when `model` was loaded from this file, else the file's own.
    const bool loaded = model.config && model.info.path == path;
    h5::Handle file;
    std::optional<keras::Graph> parsed;
    if (!loaded) {
        file = h5::openExisting(path, false);
        std::string text = keras::readRootString(file.get(), "model_config");
        if (text.empty())
            throw inputError("'" + path + "' has no layer graph (model_config), so its network " +
                             "cannot be evaluated");
        parsed = keras::Graph::parse(text, path);
    }
    const keras::Graph g = loaded ? keras::Graph::fromConfig(*model.config, path) : *parsed;
    auto storage = storageFor(path, model, file ? file.get() : H5I_INVALID_HID);
    Program p;
    Compiler c(path, model, options, *storage, p);
    const bool keras3 = model.info.format == Format::Keras3;
    p.outputSlots = c.graph(g, "", keras3 ? "/" + storage->container() : "", {});
    // Keras 3 computes hard_sigmoid as relu6(x + 3) / 6, Keras 2 as clip(0.2 x + 0.5, 0, 1).
    int major = loaded ? model.config->kerasMajor : 0;
    if (!loaded) {
        h5::Handle root(H5Gopen2(file.get(), "/", H5P_DEFAULT));
        if (root) major = formats::kerasMajor(root.get());
    }
    if (major == 0) major = keras3 ? 3 : 2;
    for (auto& op : p.ops)
        if (op.activation == "hard_sigmoid" && major >= 3) op.activation = "hard_sigmoid_relu6";
    return p;
}

std::shared_ptr<const KerasStorage> recordStorage(hid_t file, const Model& model,
                                                  const keras::Graph& graph) {
    auto out = std::make_shared<KerasStorage>();
    auto storage = recordingStorage(file, model, *out);
    try {
        out->root = storage->root();
        out->container = storage->container();
    } catch (const std::exception&) {
        return nullptr;  // the check reads the file instead
    }
    try {
        Program unused;
        const NetworkOptions all;
        Compiler c(model.info.path, model, all, *storage, unused, true);
        const bool keras3 = model.info.format == Format::Keras3;
        c.graph(graph, "", keras3 ? "/" + out->container : "", {});
    } catch (const std::exception&) {
        // A network that cannot be evaluated: a later compile stops at the same place.
    }
    return out;
}

}  // namespace cle::core::eval
