#include "graph/keras_graph.h"

#include <algorithm>
#include <cctype>
#include <regex>
#include <set>

#include "cle/core/error.h"
#include "formats/formats.h"
#include "hdf5/h5.h"
#include "support/json_text.h"

namespace cle::core::keras {

namespace {

using nlohmann::json;

std::string text(const json& j, const std::string& key) {
    if (!j.is_object() || !j.contains(key) || !j[key].is_string()) return "";
    return j[key].get<std::string>();
}

bool flag(const json& config, const std::string& key, bool fallback) {
    if (!config.is_object() || !config.contains(key) || !config[key].is_boolean()) return fallback;
    return config[key].get<bool>();
}

// Tensor references in an inbound node or output list: Keras 2 writes ["name", node, tensor, {}],
// Keras 3 writes {"keras_history": ["name", node, tensor]} inside a "__keras_tensor__" object.
void collectRefs(const json& j, std::vector<std::string>& out) {
    if (j.is_array()) {
        if (j.size() >= 3 && j[0].is_string() && j[1].is_number() && j[2].is_number()) {
            out.push_back(j[0].get<std::string>());
            if (j.size() > 3) collectRefs(j[3], out);  // call arguments may hold more tensors
            return;
        }
        for (const auto& v : j) collectRefs(v, out);
    } else if (j.is_object()) {
        if (j.contains("keras_history") && j["keras_history"].is_array() &&
            !j["keras_history"].empty() && j["keras_history"][0].is_string()) {
            out.push_back(j["keras_history"][0].get<std::string>());
            return;
        }
        for (const auto& [key, value] : j.items()) collectRefs(value, out);
    }
}

bool isModelClass(const std::string& cls, const json& config) {
    static const std::set<std::string> models = {"Model", "Functional", "Sequential"};
    return models.count(cls) > 0 || (config.is_object() && config.contains("layers"));
}

std::string lastComponent(const std::string& path) {
    auto pos = path.find_last_of('/');
    return pos == std::string::npos ? path : path.substr(pos + 1);
}

std::string join(const std::string& a, const std::string& b) {
    if (a.empty() || a == "/") return "/" + b;
    return a + "/" + b;
}

// Batch-norm variable name ("gamma", "moving_mean", ...) -> dataset path, Keras 2 layout. In a
// nested model's group only the weights of the layer `owner` count.
std::map<std::string, std::string> keras2Vars(hid_t file, const std::string& root,
                                              const std::string& group, const std::string& owner) {
    std::map<std::string, std::string> vars;
    for (const auto& w : formats::keras2Weights(file, root, group))
        if (owner.empty() || lastComponent(w.owner) == owner) vars[w.variable] = w.path;
    return vars;
}

// Keras 3 stores variables as vars/0, vars/1, ... in the order the layer created them.
std::map<std::string, std::string> keras3Vars(hid_t file, const std::string& group, bool scale,
                                              bool center) {
    std::map<std::string, std::string> vars;
    const std::vector<std::string> paths = formats::keras3Weights(file, group);
    std::vector<std::string> keys;
    if (scale) keys.push_back("gamma");
    if (center) keys.push_back("beta");
    keys.push_back("moving_mean");
    keys.push_back("moving_variance");
    for (size_t i = 0; i < keys.size() && i < paths.size(); ++i) vars[keys[i]] = paths[i];
    return vars;
}

}  // namespace

const Node* Graph::find(const std::string& name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &nodes_[it->second];
}

Graph Graph::parse(const std::string& source, const std::string& file) {
    auto j = json_text::parseModelConfig(source, file);
    if (j.is_discarded())
        throw inputError("cannot read the model_config of '" + file + "': it is not valid JSON");
    return fromJson(j, file);
}

Graph Graph::fromConfig(const KerasConfig& config, const std::string& file) {
    const auto& j = formats::parsed(config);
    if (j.is_discarded())
        throw inputError("cannot read the model_config of '" + file + "': it is not valid JSON");
    return fromJson(json(j), file);
}

Graph Graph::fromJson(const json& j, const std::string& file) {
    auto bad = [&](const std::string& why) {
        return inputError("cannot read the model_config of '" + file + "': " + why);
    };
    if (!j.is_object() || !j.contains("config")) throw bad("it does not describe a Keras model");
    const json& cfg = j["config"];
    const json* layers = cfg.is_array() ? &cfg : nullptr;  // old Sequential: a plain list
    if (cfg.is_object() && cfg.contains("layers") && cfg["layers"].is_array())
        layers = &cfg["layers"];
    if (!layers) throw bad("it lists no layers");

    Graph g;
    bool functional = text(j, "class_name") != "Sequential" &&
                      std::any_of(layers->begin(), layers->end(), [](const json& l) {
                          return l.is_object() && l.contains("inbound_nodes");
                      });
    for (const auto& layer : *layers) g.addLayer(layer, file);
    if (functional) {
        for (size_t i = 0; i < layers->size(); ++i)
            if ((*layers)[i].contains("inbound_nodes"))
                g.addInbound(g.nodes_[i], (*layers)[i]["inbound_nodes"]);
        if (cfg.is_object() && cfg.contains("output_layers")) g.markOutputs(cfg["output_layers"]);
    } else {
        // A Sequential model is a chain in list order.
        for (size_t i = 0; i < g.nodes_.size(); ++i) {
            g.nodes_[i].calls = 1;
            if (i > 0) g.nodes_[i].inputs = {g.nodes_[i - 1].name};
        }
        if (!g.nodes_.empty()) g.nodes_.back().output = true;
    }
    g.linkConsumers();
    return g;
}

void Graph::addLayer(const json& layer, const std::string& file) {
    if (!layer.is_object())
        throw inputError("cannot read the model_config of '" + file +
                         "': a layer is not an object");
    Node n;
    n.cls = text(layer, "class_name");
    n.config =
        layer.contains("config") && layer["config"].is_object() ? layer["config"] : json::object();
    n.name = text(layer, "name");
    if (n.name.empty()) n.name = text(n.config, "name");
    if (n.name.empty())
        throw inputError("cannot read the model_config of '" + file + "': a " +
                         (n.cls.empty() ? std::string("layer") : n.cls) + " layer has no name");
    if (index_.count(n.name))
        throw inputError("cannot read the model_config of '" + file + "': two layers are named '" +
                         n.name + "'");
    n.nested = isModelClass(n.cls, n.config);
    if (n.nested) {
        try {
            n.inner = std::make_shared<const Graph>(
                fromJson(json{{"class_name", n.cls}, {"config", n.config}}, file));
        } catch (const Error&) {
            n.inner.reset();  // analysed as an opaque layer
        }
    }
    index_[n.name] = nodes_.size();
    nodes_.push_back(std::move(n));
}

void Graph::addInbound(Node& node, const json& inbound) {
    if (!inbound.is_array()) return;
    for (const auto& call : inbound) {
        ++node.calls;
        collectRefs(call, node.inputs);
    }
}

void Graph::markOutputs(const json& outputs) {
    std::vector<std::string> names;
    collectRefs(outputs, names);
    for (const auto& name : names)
        if (auto it = index_.find(name); it != index_.end()) nodes_[it->second].output = true;
}

void Graph::linkConsumers() {
    for (const auto& n : nodes_)
        for (const auto& input : n.inputs)
            if (auto it = index_.find(input); it != index_.end())
                nodes_[it->second].consumers.push_back(n.name);
}

std::string readRootString(hid_t file, const std::string& name) {
    h5::Handle root(H5Gopen2(file, "/", H5P_DEFAULT));
    if (!root || !h5::hasAttribute(root.get(), name)) return "";
    auto values = h5::readStringsAttribute(root.get(), name);
    return values.empty() ? "" : values.front();
}

std::string activationOf(const Node& node) {
    if (!node.config.contains("activation")) return "linear";
    const json& a = node.config["activation"];
    if (a.is_string()) return a.get<std::string>();
    if (a.is_null()) return "linear";
    if (a.is_object()) {
        if (a.contains("config") && a["config"].is_string()) return a["config"].get<std::string>();
        if (auto name = text(a, "registered_name"); !name.empty()) return name;
        if (auto name = text(a, "class_name"); !name.empty()) return name;
    }
    return "unknown";
}

std::optional<long> batchNormAxis(const Node& bn) {
    if (!bn.config.contains("axis")) return -1;
    const json* axis = &bn.config["axis"];
    if (axis->is_array() && axis->size() == 1) axis = &(*axis)[0];
    if (!axis->is_number_integer()) return std::nullopt;
    return axis->get<long>();
}

long configInt(const Node& node, const std::string& key, long fallback) {
    if (!node.config.contains(key) || !node.config[key].is_number()) return fallback;
    return node.config[key].get<long>();
}

std::string snakeCase(const std::string& className) {
    // The same three substitutions as keras.src.utils.naming.to_snake_case.
    std::string s = std::regex_replace(className, std::regex("\\W+"), "");
    s = std::regex_replace(s, std::regex("(.)([A-Z][a-z]+)"), "$1_$2");
    s = std::regex_replace(s, std::regex("([a-z])([A-Z])"), "$1_$2");
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

std::map<std::string, std::string> layerVariables(hid_t file, const std::string& root,
                                                  const std::string& group, const Node& layer) {
    std::string owner = h5::isGroup(file, join(group, layer.name)) ? layer.name : "";
    return keras2Vars(file, root, group, owner);
}

std::optional<BatchNormRef> batchNormRef(hid_t file, const std::string& root,
                                         const std::string& group, bool keras3, const Node& bn,
                                         std::string* problem) {
    bool scale = flag(bn.config, "scale", true);
    bool center = flag(bn.config, "center", true);
    std::string owner = h5::isGroup(file, join(group, bn.name)) ? bn.name : "";
    auto vars =
        keras3 ? keras3Vars(file, group, scale, center) : keras2Vars(file, root, group, owner);
    if (!vars.count("moving_mean") || !vars.count("moving_variance")) {
        if (problem)
            *problem = "batch norm '" + bn.name + "' has no moving mean and variance in the file";
        return std::nullopt;
    }
    BatchNormRef ref;
    ref.name = bn.name;
    ref.meanPath = vars["moving_mean"];
    ref.varPath = vars["moving_variance"];
    if (scale && vars.count("gamma")) ref.gammaPath = vars["gamma"];
    if (center && vars.count("beta")) ref.betaPath = vars["beta"];
    if (bn.config.contains("epsilon") && bn.config["epsilon"].is_number())
        ref.epsilon = bn.config["epsilon"].get<double>();
    return ref;
}

std::map<std::string, Keras3Place> keras3Places(hid_t file, const Graph& graph,
                                                const std::string& groups,
                                                const std::string& nested) {
    std::map<std::string, Keras3Place> places;
    std::map<std::string, int> used;
    for (const auto& n : graph.nodes()) {
        if (n.cls == "InputLayer") continue;  // not among the model's tracked layers
        std::string base = snakeCase(n.cls);
        int k = used[base]++;
        if (k > 0) base.append(1, '_').append(std::to_string(k));
        Keras3Place p;
        p.group = groups + "/" + base;
        std::string name = formats::keras3Name(file, p.group, base);
        p.name = nested.empty() ? name : nested + "/" + name;
        places[n.name] = std::move(p);
    }
    return places;
}

}  // namespace cle::core::keras
