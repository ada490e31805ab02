#pragma once
// Sharded Keras 3 weights: a `*.weights.json` index whose `weight_map` sends each layer's `vars`
// group to one or more `<base>_0000N.weights.h5` shard files in the same directory. The set reads
// as one HDF5 file assembled in memory.
#include <string>
#include <vector>

#include "hdf5/h5.h"

namespace cle::core::sharded {

/// True when `path` holds a JSON object with a `weight_map` (whatever its suffix).
bool isIndex(const std::string& path);

/// The shard files of the index at `path` (full paths, in the order they first appear), each
/// checked to be a plain name in the index's directory. Throws an input Error naming the index.
std::vector<std::string> shardsOf(const std::string& path);

/// Every shard of the index at `path` merged into one HDF5 file in memory.
h5::Handle openSet(const std::string& path);

/// The shard paths of an exported set at `output` (an index): `<base>_0000N.weights.h5` beside
/// it, with `base` the index's name without `.weights.json` (as Keras names them), one per shard
/// of the input.
std::vector<std::string> outputShards(const std::string& output, size_t count);

/// The index text of the exported set: the input index with each shard name replaced by its
/// output's.
std::string outputIndex(const std::string& input, const std::vector<std::string>& outputs);

}  // namespace cle::core::sharded
