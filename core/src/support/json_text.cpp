#include "support/json_text.h"

#include "cle/core/error.h"

namespace cle::core::json_text {

namespace {
struct TooDeep {};

template <typename Json>
Json parseBounded(const std::string& text, const std::string& file) {
    // The parser itself is iterative; the callback stops it before the value grows too deep.
    auto bound = [](int depth, typename Json::parse_event_t, Json&) {
        if (depth > kMaxDepth) throw TooDeep{};
        return true;
    };
    try {
        return Json::parse(text, bound, false);
    } catch (const TooDeep&) {
        throw inputError("cannot read the model_config of '" + file +
                         "': it is nested too deeply (more than " + std::to_string(kMaxDepth) +
                         " levels)");
    }
}

}  // namespace

nlohmann::json parseModelConfig(const std::string& text, const std::string& file) {
    return parseBounded<nlohmann::json>(text, file);
}

nlohmann::ordered_json parseOrderedModelConfig(const std::string& text, const std::string& file) {
    return parseBounded<nlohmann::ordered_json>(text, file);
}

std::string dump(const nlohmann::json& j, int indent) {
    return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string dump(const nlohmann::ordered_json& j, int indent) {
    return j.dump(indent, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace cle::core::json_text
