#pragma once
// Layer groups ("a,b,c;d,e" or {"groups": [["a","b","c"],["d","e"]]}) and their expansion into
// consecutive pairs, as the reference does.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cle/core/layer_pair.h"
#include "cle/core/model.h"

namespace cle::core {

using Group = std::vector<std::string>;

/// Parses "a,b,c;d,e". Whitespace around names is ignored. Throws a usage Error for an empty list
/// or a group of fewer than two names.
std::vector<Group> parseGroups(const std::string& text);
/// Reads the JSON pairs file. Accepts {"groups": [[...], ...]} and the `cle pairs --json` form
/// {"suggested": [{"layers": [...]}, ...]}. Throws Error naming the file on failure.
std::vector<Group> readGroupsFile(const std::string& path);
/// Writes {"groups": [...]} atomically.
void writeGroupsFile(const std::string& path, const std::vector<Group>& groups);
/// [a, b, c] -> (a, b), (b, c). Throws a usage Error for a group of fewer than two names.
std::vector<LayerPair> expandGroups(const std::vector<Group>& groups);

}  // namespace cle::core
