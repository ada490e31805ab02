#include "support/json_text.h"

#include "cle/core/error.h"

namespace cle::core::json_text {

namespace {
struct TooDeep {};
}  // namespace

nlohmann::json parseModelConfig(const std::string& text, const std::string& file) {
    // The parser itself is iterative; the callback stops it before the value grows too deep.
    auto bound = [](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
        if (depth > kMaxDepth) throw TooDeep{};
        return true;
    };
    try {
        return nlohmann::json::parse(text, bound, false);
    } catch (const TooDeep&) {
        throw inputError("cannot read the model_config of '" + file +
                         "': it is nested too deeply (more than " + std::to_string(kMaxDepth) +
                         " levels)");
    }
}

std::string dump(const nlohmann::json& j, int indent) {
    return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string dump(const nlohmann::ordered_json& j, int indent) {
    return j.dump(indent, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace cle::core::json_text
