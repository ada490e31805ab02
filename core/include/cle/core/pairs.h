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

/// Source layers whose output channels are divided by a per-channel factor and sink layers whose
/// input channels are multiplied by it, joined only by operations that commute with a positive
/// per-channel scale (Add, Concatenate, ReLU, pooling, ...). Channels are numbered over the
/// region: the inputs of an Add share their channels, a Concatenate's inputs own their slices.
struct Region {
    std::vector<std::string> sources;
    std::vector<std::string> sinks;
    /// sourceChannels[i][c]: the region channel of output channel c of sources[i].
    std::vector<std::vector<int>> sourceChannels;
    /// sinkChannels[j][k]: the region channel feeding input channel k of sinks[j].
    std::vector<std::vector<int>> sinkChannels;
    int channels = 0;  ///< number of region channels
};

/// A region as a pairs file names it: {"sources": [...], "sinks": [...]}.
struct RegionNames {
    std::vector<std::string> sources;
    std::vector<std::string> sinks;
};

/// Parses "a,b,c;d,e". Whitespace around names is ignored. Throws a usage Error for an empty list
/// or a group of fewer than two names.
std::vector<Group> parseGroups(const std::string& text);
/// Reads the JSON pairs file. Accepts {"groups": [[...], ...]} and the `cle pairs --json` form
/// {"suggested": [{"layers": [...]}, ...]}; either may also hold "regions" (readRegionsFile),
/// and a file with regions may have no groups. Throws Error naming the file on failure.
std::vector<Group> readGroupsFile(const std::string& path);
/// The "regions" of a pairs file ({"regions": [{"sources": [...], "sinks": [...]}]}), empty when
/// it has none. Throws Error naming the file for a malformed entry.
std::vector<RegionNames> readRegionsFile(const std::string& path);
/// Writes {"groups": [...]} atomically, with "regions" when there are any.
void writeGroupsFile(const std::string& path, const std::vector<Group>& groups,
                     const std::vector<RegionNames>& regions = {});
/// [a, b, c] -> (a, b), (b, c). Throws a usage Error for a group of fewer than two names.
std::vector<LayerPair> expandGroups(const std::vector<Group>& groups);

}  // namespace cle::core
