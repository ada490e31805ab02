#include "formats/keras_config.h"

#include "cle/core/error.h"
#include "hdf5/h5.h"
#include "support/json_text.h"

namespace cle::core::formats {

int kerasMajor(hid_t root) {
    if (!h5::hasAttribute(root, "keras_version")) return 0;
    auto version = h5::readStringsAttribute(root, "keras_version");
    if (version.empty()) return 0;
    int major = 0;
    for (char ch : version.front()) {
        if (ch < '0' || ch > '9' || major > 1000) break;
        major = major * 10 + (ch - '0');
    }
    return major;
}

std::shared_ptr<const KerasConfig> readKerasConfig(hid_t file, const std::string& path) {
    h5::Silence quiet;
    h5::Handle root(H5Gopen2(file, "/", H5P_DEFAULT));
    if (!root || !h5::hasAttribute(root.get(), "model_config")) return nullptr;
    auto text = h5::readStringsAttribute(root.get(), "model_config");
    if (text.empty() || text.front().empty()) return nullptr;
    auto config = std::make_shared<KerasConfig>();
    config->text = std::move(text.front());
    config->kerasMajor = kerasMajor(root.get());
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
