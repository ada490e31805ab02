#pragma once
// A Keras file's layer graph as stored (the root attribute model_config), read and parsed once
// per load: the layer listing, the topology, the graph view and the export's ReLU6 relaxation
// all read this one parsed value.
#include <hdf5.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace cle::core {

struct KerasConfig {
    std::string text;  ///< as stored
    /// Parsed with the depth bound, keys in their stored order; discarded when `text` is not
    /// JSON.
    nlohmann::ordered_json json;
    /// Why `json` is discarded when the text nests deeper than the bound ("" otherwise); each
    /// reader of the graph throws it as an input Error, as parsing the text would have.
    std::string error;
    /// The major version of the Keras that wrote the file (its keras_version; 0 when not said):
    /// a few activations changed their formula in Keras 3.
    int kerasMajor = 0;
};

namespace formats {

/// The major version in the root attribute keras_version of the group `root` (0 when absent).
int kerasMajor(hid_t root);

/// Reads and parses the root attribute model_config of `file` (`path` names it in messages);
/// null when the file has none or it is empty.
std::shared_ptr<const KerasConfig> readKerasConfig(hid_t file, const std::string& path);

/// The parsed config; throws `config.error` as an input Error when it is set.
const nlohmann::ordered_json& parsed(const KerasConfig& config);

}  // namespace formats

}  // namespace cle::core
