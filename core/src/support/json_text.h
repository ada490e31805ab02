#pragma once
// JSON read from weight files and JSON written for people: bounded nesting on the way in, no
// exception for names that are not UTF-8 on the way out.
#include <nlohmann/json.hpp>
#include <string>

namespace cle::core::json_text {

/// Deepest nesting accepted in a model_config (real Keras models stay far below it).
constexpr int kMaxDepth = 512;

/// Parses a model_config read from `file`. Invalid JSON gives a discarded value (as
/// nlohmann::json::parse without exceptions does); nesting deeper than kMaxDepth throws an Error
/// naming the file, so no walker over the result can exhaust the stack.
nlohmann::json parseModelConfig(const std::string& text, const std::string& file);
/// The same keeping the keys in their stored order (for a config written back).
nlohmann::ordered_json parseOrderedModelConfig(const std::string& text, const std::string& file);

/// Serializes with invalid UTF-8 replaced by U+FFFD instead of throwing.
std::string dump(const nlohmann::json& j, int indent = -1);
std::string dump(const nlohmann::ordered_json& j, int indent = -1);

}  // namespace cle::core::json_text
