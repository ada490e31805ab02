#include "formats/keras_config.h"

#include "cle/core/error.h"
#include "hdf5/h5.h"
#include "support/json_text.h"

namespace cle::core::formats {

std::shared_ptr<const KerasConfig> readKerasConfig(hid_t file, const std::string& path) {
    h5::Silence quiet;
    h5::Handle root(H5Gopen2(file, "/", H5P_DEFAULT));
    if (!root || !h5::hasAttribute(root.get(), "model_config")) return nullptr;
    auto text = h5::readStringsAttribute(root.get(), "model_config");
    if (text.empty() || text.front().empty()) return nullptr;
    auto config = std::make_shared<KerasConfig>();
    config->text = std::move(text.front());
    try {
        config->json = json_text::parseOrderedModelConfig(config->text, path);
    } catch (const Error& e) {
        config->json = nlohmann::ordered_json(nlohmann::ordered_json::value_t::discarded);
        config->error = e.what();
    }
    return config;
}

const nlohmann::ordered_json& parsed(const KerasConfig& config) {
    if (!config.error.empty()) throw inputError(config.error);
    return config.json;
}

}  // namespace cle::core::formats
