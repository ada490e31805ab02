#pragma once
// Text files written whole or not at all.
#include <string>

namespace cle::core {

/// Writes `text` to `path` through a temporary file renamed into place. Throws Error naming the
/// path on failure.
void writeTextFileAtomically(const std::string& path, const std::string& text);

}  // namespace cle::core
