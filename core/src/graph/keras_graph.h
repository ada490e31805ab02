#pragma once
// The layer graph of a Keras model_config (Keras 2 and Keras 3 JSON), as far as pairing needs it,
// and where a Keras file stores a batch norm's parameters.
#include <hdf5.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cle/core/layer_graph.h"
#include "cle/core/topology.h"
#include "formats/keras_config.h"

namespace cle::core::keras {

class Graph;

/// One layer of a model.
struct Node {
    std::string name;
    std::string cls;                     ///< class_name, e.g. "Conv2D"
    nlohmann::json config;               ///< the layer's "config" object ({} when absent)
    std::vector<std::string> inputs;     ///< producing layers, one per tensor reference
    std::vector<std::string> consumers;  ///< consuming layers, one per tensor reference
    int calls = 0;                       ///< how often the layer is called (shared layers: > 1)
    bool output = false;                 ///< its output is one of the model's outputs
    bool nested = false;                 ///< a Model / Functional / Sequential inside the model
    std::shared_ptr<const Graph> inner;  ///< a nested model's own graph (null when unreadable)
};

/// A model's layers in config order, with producers and consumers linked; nested models carry
/// their own graphs.
class Graph {
public:
    /// Parses model_config text. Throws an input Error naming `file` when the text is not JSON or
    /// not a Keras model.
    static Graph parse(const std::string& text, const std::string& file);
    /// The same from parsed JSON (`{"class_name": ..., "config": {...}}`).
    static Graph fromJson(const nlohmann::json& model, const std::string& file);
    /// The same from the model_config read at load (no second parse of its text).
    static Graph fromConfig(const KerasConfig& config, const std::string& file);

    const std::vector<Node>& nodes() const { return nodes_; }
    /// nullptr when no layer has that name.
    const Node* find(const std::string& name) const;

private:
    void addLayer(const nlohmann::json& layer, const std::string& file);
    void addInbound(Node& node, const nlohmann::json& inbound);
    void markOutputs(const nlohmann::json& outputs);
    void linkConsumers();

    std::vector<Node> nodes_;
    std::map<std::string, size_t> index_;
};

/// The graph view of `graph`: its layers with the weighted layers of `info` they hold, and the
/// edges between them.
LayerGraph layerGraph(const ModelInfo& info, const Graph& graph);

/// The root string attribute `name` (`model_config`, or `config`), "" when absent.
std::string readRootString(hid_t file, const std::string& name);

/// The layer's activation name ("linear" when it has none); for a serialized activation object
/// its function or class name.
std::string activationOf(const Node& node);
/// An integer config entry, `fallback` when absent or not a number.
long configInt(const Node& node, const std::string& key, long fallback);
/// The axis a batch norm normalizes over as written (-1 when absent, Keras' default; a list of
/// one axis counts); nullopt when it is not a single integer axis.
std::optional<long> batchNormAxis(const Node& bn);
/// `class_name` in Keras 3's storage naming ("Conv2D" -> "conv2d",
/// "BatchNormalization" -> "batch_normalization").
std::string snakeCase(const std::string& className);

/// Where Keras 3 stores a layer: its HDF5 group ("/layers/conv2d_1") and its name as listed
/// (the real name Keras >= 3.6 writes on the group, else the group's own name; inside a nested
/// model prefixed with that model's listed name).
struct Keras3Place {
    std::string group;
    std::string name;
};
/// The places of the layers of `graph` (InputLayers have none), whose layers Keras tracks in the
/// group `groups` ("/layers", "/layers/functional/layers") under their class name in snake case
/// with a counter per class, in config order. `nested` is the listed name of the model that
/// `graph` is nested in ("" at the top).
std::map<std::string, Keras3Place> keras3Places(hid_t file, const Graph& graph,
                                                const std::string& groups,
                                                const std::string& nested);

/// A Keras 2 layer's variables ("alpha", "gamma", ...) -> dataset path, for the layer stored in
/// `group` (as for batchNormRef).
std::map<std::string, std::string> layerVariables(hid_t file, const std::string& root,
                                                  const std::string& group, const Node& layer);

/// Where a batch norm's parameters are stored. `group` is the HDF5 group of the layer (Keras 2:
/// the group named by layer_names, for a layer of a nested model the nested model's group;
/// Keras 3: /layers/<name>). Returns nullopt and sets `problem` when the moving statistics
/// cannot be found.
std::optional<BatchNormRef> batchNormRef(hid_t file, const std::string& root,
                                         const std::string& group, bool keras3, const Node& bn,
                                         std::string* problem);

}  // namespace cle::core::keras
