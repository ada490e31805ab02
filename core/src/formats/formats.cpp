#include "formats/formats.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "cle/core/error.h"
#include "hdf5/dtype_io.h"
#include "hdf5/h5.h"

namespace cle::core::formats {

namespace {

std::string lastComponent(const std::string& path) {
    auto pos = path.find_last_of('/');
    return pos == std::string::npos ? path : path.substr(pos + 1);
}

std::string stripSuffix(std::string name) {
    auto pos = name.rfind(':');
    if (pos != std::string::npos) name.erase(pos);  // "kernel:0" -> "kernel"
    return name;
}

std::string join(const std::string& a, const std::string& b) {
    if (a.empty() || a == "/") return "/" + b;
    return a + "/" + b;
}

struct DatasetFacts {
    bool ok = false;
    std::vector<std::int64_t> shape;
    std::optional<DType> dtype;
};

DatasetFacts facts(hid_t file, const std::string& path) {
    DatasetFacts f;
    h5::Silence quiet;
    h5::Handle d(H5Dopen2(file, path.c_str(), H5P_DEFAULT));
    if (!d) return f;
    f.ok = true;
    f.shape = h5::datasetShape(d.get());
    f.dtype = io::floatType(d.get());
    return f;
}

// A layer from its weight dataset (whose facts may be known) and optional bias dataset.
LayerInfo makeLayer(hid_t file, const std::string& name, const std::string& kind, Layout layout,
                    const std::string& weight, const std::string& bias,
                    const DatasetFacts* known = nullptr) {
    LayerInfo l;
    l.name = name;
    l.kind = kind;
    l.layout = layout;
    l.weightPath = weight;
    auto w = known ? *known : facts(file, weight);
    l.shape = w.shape;
    if (w.dtype) {
        l.dtype = *w.dtype;
    } else {
        l.supported = false;
        l.unsupportedReason = "its weights are not floating-point numbers";
    }
    if (!bias.empty()) {
        auto b = facts(file, bias);
        if (b.ok && b.dtype && b.shape.size() == 1) {
            l.biasPath = bias;
            l.biasDtype = *b.dtype;
            l.biasSize = b.shape[0];
        } else if (b.ok && l.supported) {  // equalized without it, the layer would change
            l.supported = false;
            l.unsupportedReason =
                "its bias (" + bias + ") is not a vector of floating-point numbers";
        }
    }
    return l;
}

std::string rankKind(int rank, Layout layout) {
    static const char* torch[] = {"Linear", "Conv1d", "Conv2d", "Conv3d"};
    static const char* keras[] = {"Dense", "Conv1D", "Conv2D", "Conv3D"};
    if (rank < 2 || rank > 5) return "Tensor";
    return (layout == Layout::Torch ? torch : keras)[rank - 2];
}

struct KerasClass {
    std::string cls;
    size_t position = 0;  ///< order of appearance in the config (graph order within a model)
};

// Keras layer name -> class name, from the model_config JSON (nested models included).
void collectClasses(const nlohmann::ordered_json& j, std::map<std::string, KerasClass>& out) {
    if (j.is_object()) {
        if (j.contains("class_name") && j.contains("config") && j["config"].is_object()) {
            const auto& cfg = j["config"];
            std::string name = j.contains("name") && j["name"].is_string()
                                   ? j["name"].get<std::string>()
                                   : (cfg.contains("name") && cfg["name"].is_string()
                                          ? cfg["name"].get<std::string>()
                                          : "");
            if (!name.empty() && j["class_name"].is_string() && !out.count(name))
                out[name] = {j["class_name"].get<std::string>(), out.size()};
        }
        for (const auto& [k, v] : j.items()) collectClasses(v, out);
    } else if (j.is_array()) {
        for (const auto& v : j) collectClasses(v, out);
    }
}

std::map<std::string, KerasClass> kerasClasses(const KerasConfig* config) {
    std::map<std::string, KerasClass> classes;
    if (!config) return classes;
    const auto& j = parsed(*config);
    if (!j.is_discarded()) collectClasses(j, classes);
    return classes;
}

const std::map<std::string, std::string>& unsupportedKeras() {
    static const std::map<std::string, std::string> m = {
        {"Conv1DTranspose", "transposed convolution"},
        {"Conv2DTranspose", "transposed convolution"},
        {"Conv3DTranspose", "transposed convolution"},
        {"LSTM", "recurrent layers are not supported"},
        {"GRU", "recurrent layers are not supported"},
        {"SimpleRNN", "recurrent layers are not supported"},
        {"Embedding", "embeddings are not supported"},
    };
    return m;
}

// Layers whose weights of rank 2 or more are no kernel: a PReLU's slopes (one per position and
// channel unless axes are shared) act on each channel alone, like a LeakyReLU.
bool holdsNoKernel(const std::string& cls) { return cls == "PReLU"; }

// The same by a Keras 3 layer group, named after the class in snake case ("p_re_lu",
// "p_re_lu_1").
bool holdsNoKernel3(const std::string& group) {
    return group == "p_re_lu" || group.rfind("p_re_lu_", 0) == 0;
}

// Old or custom weight names ("W:0", "b:0"): the first tensor of rank 2-5 is the kernel, and a
// vector as long as its last axis is the bias.
void guessKernel(hid_t file, std::map<std::string, std::string>& w) {
    std::string kernel;
    std::int64_t out = -1;
    for (const auto& [k, path] : w) {
        auto f = facts(file, path);
        if (f.shape.size() >= 2 && f.shape.size() <= 5 && kernel.empty()) {
            kernel = path;
            out = f.shape.back();
        }
    }
    if (kernel.empty()) return;
    std::string bias;
    for (const auto& [k, path] : w) {
        auto f = facts(file, path);
        if (f.shape.size() == 1 && f.shape[0] == out && bias.empty()) bias = path;
    }
    w.clear();
    w["kernel"] = kernel;
    if (!bias.empty()) w["bias"] = bias;
}

}  // namespace

Format detect(hid_t file, std::string& kerasRoot) {
    h5::Handle root(H5Gopen2(file, "/", H5P_DEFAULT));
    for (const char* candidate : {"/", "/model_weights"}) {
        if (!h5::isGroup(file, candidate)) continue;
        h5::Handle g(H5Gopen2(file, candidate, H5P_DEFAULT));
        if (h5::hasAttribute(g.get(), "layer_names") || h5::hasAttribute(g.get(), "layer_names0")) {
            kerasRoot = candidate;
            return Format::Keras2;
        }
    }
    if (!keras3Container(file).empty()) return Format::Keras3;
    bool torch = h5::anyDataset(file, [](const std::string& d) {
        auto last = lastComponent(d);
        return last == "weight" || (last.size() > 7 && last.ends_with(".weight"));
    });
    return torch ? Format::PyTorch : Format::Generic;
}

std::vector<LayerInfo> listPyTorch(hid_t file) {
    std::vector<LayerInfo> layers;
    for (const auto& d : h5::listDatasets(file)) {
        std::string prefix;
        char sep = 0;
        if (d.ends_with("/weight")) {
            prefix = d.substr(0, d.size() - 6);
            sep = '/';
        } else if (d.ends_with(".weight")) {
            prefix = d.substr(0, d.size() - 6);
            sep = '.';
        } else {
            continue;
        }
        auto f = facts(file, d);
        if (f.shape.size() < 2) continue;  // norms' scales and other vectors are not layers
        std::string name = prefix.substr(1, prefix.size() - 2);  // drop "/" and the separator
        std::replace(name.begin(), name.end(), '/', '.');
        std::string bias = prefix + "bias";
        if (!h5::isDataset(file, bias)) bias.clear();
        (void)sep;
        layers.push_back(makeLayer(file, name, rankKind(int(f.shape.size()), Layout::Torch),
                                   Layout::Torch, d, bias, &f));
    }
    return layers;
}

std::vector<KerasWeight> keras2Weights(hid_t file, const std::string& root,
                                       const std::string& group) {
    std::vector<KerasWeight> weights;
    if (!h5::isGroup(file, group)) return weights;
    h5::Handle g(H5Gopen2(file, group.c_str(), H5P_DEFAULT));
    for (const auto& wn : h5::readSplitStrings(g.get(), "weight_names")) {
        std::string path = join(group, wn);
        if (!h5::isDataset(file, path)) path = join(root, wn);
        if (!h5::isDataset(file, path)) continue;
        auto slash = wn.find_last_of('/');
        weights.push_back({slash == std::string::npos ? "" : wn.substr(0, slash),
                           stripSuffix(lastComponent(wn)), path});
    }
    return weights;
}

std::vector<std::string> keras3Weights(hid_t file, const std::string& group) {
    std::vector<std::string> paths;
    std::string vars = group + "/vars";
    if (!h5::isGroup(file, vars)) return paths;
    auto names = h5::listChildren(file, vars);
    std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
        return a.size() != b.size() ? a.size() < b.size() : a < b;  // "2" before "10"
    });
    for (const auto& n : names) paths.push_back(vars + "/" + n);
    return paths;
}

std::vector<LayerInfo> listKeras2(hid_t file, const std::string& root, const KerasConfig* config) {
    auto classes = kerasClasses(config);
    h5::Handle rootGroup(H5Gopen2(file, root.c_str(), H5P_DEFAULT));
    std::vector<LayerInfo> layers;
    for (const auto& layerName : h5::readSplitStrings(rootGroup.get(), "layer_names")) {
        std::string group = join(root, layerName);
        // Weight names grouped by the layer they belong to (a nested model holds several).
        std::map<std::string, std::map<std::string, std::string>> owners;
        std::vector<std::string> order;
        for (const auto& w : keras2Weights(file, root, group)) {
            const std::string& owner = w.owner.empty() ? layerName : w.owner;
            if (!owners.count(owner)) order.push_back(owner);
            owners[owner][w.variable] = w.path;
        }
        // A nested model lists trainable weights first, not layer by layer: use graph order.
        auto position = [&](const std::string& owner) {
            auto it = classes.find(lastComponent(owner));
            return it == classes.end() ? SIZE_MAX : it->second.position;
        };
        std::stable_sort(
            order.begin(), order.end(),
            [&](const std::string& a, const std::string& b) { return position(a) < position(b); });
        for (const auto& owner : order) {
            std::string base =
                order.size() == 1 ? layerName : layerName + "/" + lastComponent(owner);
            std::string key = order.size() == 1 ? layerName : lastComponent(owner);
            std::string cls = classes.count(key) ? classes[key].cls : "";
            auto w = owners[owner];
            if (holdsNoKernel(cls)) continue;  // its weights are not a kernel to equalize
            if (!w.count("kernel") && !w.count("depthwise_kernel")) guessKernel(file, w);
            auto get = [&](const char* k) { return w.count(k) ? w.at(k) : std::string(); };
            if (w.count("depthwise_kernel") && w.count("pointwise_kernel")) {
                auto dw = makeLayer(file, base + "/depthwise", "SeparableConv2D/depthwise",
                                    Layout::Keras, get("depthwise_kernel"), "");
                dw.depthwise = true;
                layers.push_back(dw);
                layers.push_back(makeLayer(file, base + "/pointwise", "SeparableConv2D/pointwise",
                                           Layout::Keras, get("pointwise_kernel"), get("bias")));
            } else if (w.count("depthwise_kernel")) {
                auto dw = makeLayer(file, base, cls.empty() ? "DepthwiseConv2D" : cls,
                                    Layout::Keras, get("depthwise_kernel"), get("bias"));
                dw.depthwise = true;
                layers.push_back(dw);
            } else if (w.count("kernel")) {
                auto f = facts(file, get("kernel"));
                auto l = makeLayer(file, base,
                                   cls.empty() ? rankKind(int(f.shape.size()), Layout::Keras) : cls,
                                   Layout::Keras, get("kernel"), get("bias"));
                if (w.count("recurrent_kernel") && cls.empty()) l.kind = "RNN";
                layers.push_back(l);
            }
        }
    }
    return layers;
}

std::optional<haddr_t> groupAddress(hid_t file, const std::string& path) {
    h5::Silence quiet;
    H5O_info_t info;
    if (H5Oget_info_by_name2(file, path.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0)
        return std::nullopt;
    return info.addr;
}

namespace {

void walkKeras3(hid_t file, const std::string& group, const std::string& name,
                std::vector<LayerInfo>& layers, std::set<haddr_t>& visited, int depth) {
    // A group reached twice (hard links, even a group linked into itself) is read once.
    auto address = groupAddress(file, group);
    if (!address || !visited.insert(*address).second) return;
    if (depth > kMaxKeras3Depth)
        throw inputError("cannot read the layers of '" + h5::fileName(file) +
                         "': its groups are nested more than " + std::to_string(kMaxKeras3Depth) +
                         " levels deep");
    {
        const std::vector<std::string> paths = keras3Weights(file, group);
        if (!paths.empty() && !holdsNoKernel3(lastComponent(group))) {
            auto v0 = facts(file, paths[0]);
            auto v1 = paths.size() > 1 ? facts(file, paths[1]) : DatasetFacts{};
            bool separable = (paths.size() == 2 || paths.size() == 3) && v0.shape.size() >= 3 &&
                             v1.shape.size() == v0.shape.size() && v1.shape.front() == 1;
            if (separable) {
                auto dw = makeLayer(file, name + "/depthwise", "SeparableConv2D/depthwise",
                                    Layout::Keras, paths[0], "");
                dw.depthwise = true;
                layers.push_back(dw);
                layers.push_back(makeLayer(file, name + "/pointwise", "SeparableConv2D/pointwise",
                                           Layout::Keras, paths[1],
                                           paths.size() == 3 ? paths[2] : ""));
            } else if (v0.shape.size() >= 2 && v0.shape.size() <= 5) {
                std::string bias = v1.shape.size() == 1 ? paths[1] : "";
                bool dw = lastComponent(group).find("depthwise") != std::string::npos &&
                          v0.shape.size() >= 3;
                auto l = makeLayer(
                    file, name,
                    dw ? "DepthwiseConv2D" : rankKind(int(v0.shape.size()), Layout::Keras),
                    Layout::Keras, paths[0], bias);
                l.depthwise = dw;
                layers.push_back(l);
            }
        }
    }
    for (const auto& child : h5::listChildren(file, group)) {
        if (child == "vars") continue;
        std::string path = group + "/" + child;
        if (!h5::isGroup(file, path)) continue;
        // layers/functional/layers/dense is the layer "functional/dense", or by the real names
        // that Keras >= 3.6 stores with the variables.
        std::string own = keras3Name(file, path, child);
        bool container = child == "layers" || child == kLegacyLayers;
        walkKeras3(file, path, container ? name : (name.empty() ? own : name + "/" + own), layers,
                   visited, depth + 1);
    }
}
}  // namespace

std::vector<LayerInfo> listKeras3(hid_t file) {
    std::vector<LayerInfo> layers;
    std::set<haddr_t> visited;
    walkKeras3(file, "/" + keras3Container(file), "", layers, visited, 0);
    return layers;
}

std::string keras3Container(hid_t file) {
    if (h5::isGroup(file, "/layers")) return "layers";
    if (h5::isGroup(file, std::string("/") + kLegacyLayers)) return kLegacyLayers;
    return "";
}

std::string keras3Name(hid_t file, const std::string& group, const std::string& fallback) {
    std::string vars = group + "/vars";
    if (!h5::isGroup(file, vars)) return fallback;
    h5::Silence quiet;
    h5::Handle g(H5Gopen2(file, vars.c_str(), H5P_DEFAULT));
    if (!g || !h5::hasAttribute(g.get(), "name")) return fallback;
    auto names = h5::readStringsAttribute(g.get(), "name");
    // A name that would read as a path or is empty is not used.
    if (names.size() != 1 || names[0].empty() || names[0].find('/') != std::string::npos)
        return fallback;
    return names[0];
}

std::vector<LayerInfo> listGeneric(hid_t file) {
    std::vector<LayerInfo> layers;
    for (const auto& d : h5::listDatasets(file)) {
        auto f = facts(file, d);
        if (f.shape.size() < 2) continue;
        std::string name = d.substr(1);
        std::replace(name.begin(), name.end(), '/', '.');
        layers.push_back(makeLayer(file, name, rankKind(int(f.shape.size()), Layout::Torch),
                                   Layout::Torch, d, ""));
    }
    return layers;
}

void finishLayer(LayerInfo& l, const std::string&) {
    if (!l.supported) return;
    if (l.rank() < 2 || l.rank() > 5) {
        l.supported = false;
        l.unsupportedReason =
            "weights of rank " + std::to_string(l.rank()) + " are not supported (rank 2 to 5 are)";
        return;
    }
    if (auto it = unsupportedKeras().find(l.kind); it != unsupportedKeras().end()) {
        l.supported = false;
        l.unsupportedReason = it->second;
        return;
    }
    if (l.depthwise && l.layout == Layout::Keras && l.shape.back() != 1) {
        l.supported = false;
        l.unsupportedReason =
            "depth multiplier " + std::to_string(l.shape.back()) + " (only 1 can be equalized)";
        return;
    }
    std::int64_t size = 1;
    for (auto d : l.shape) {
        if (__builtin_mul_overflow(size, d, &size)) {
            l.supported = false;
            l.unsupportedReason = "its shape claims more than 2^63 elements";
            return;
        }
    }
    if (size == 0) {
        l.supported = false;
        l.unsupportedReason = "it has no weights (a dimension is 0)";
        return;
    }
    if (l.hasBias() && l.biasSize != l.outChannels()) {
        l.supported = false;
        l.unsupportedReason = "its bias has " + std::to_string(l.biasSize) + " values but it has " +
                              std::to_string(l.outChannels()) +
                              " output channels (a transposed convolution, or the wrong layout?)";
    }
}

}  // namespace cle::core::formats
