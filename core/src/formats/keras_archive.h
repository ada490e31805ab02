#pragma once
// Keras 3 `.keras` archives: a zip holding metadata.json, config.json (the model's graph) and
// model.weights.h5 (the weights). The weights are opened from memory, never extracted to disk.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hdf5/h5.h"

namespace cle::core::archive {

/// The name of the weights inside a Keras archive.
inline constexpr const char* kWeightsEntry = "model.weights.h5";
inline constexpr const char* kConfigEntry = "config.json";

/// True when `path` starts with a zip signature (whatever its suffix).
bool isZip(const std::string& path);

/// The parts of a Keras archive that CLE Studio reads.
struct Contents {
    std::string config;         ///< config.json as stored
    bool hasGraph = false;      ///< config.json describes a Functional or Sequential model
    std::vector<char> weights;  ///< model.weights.h5
    std::string kerasVersion;   ///< metadata.json's keras_version ("" when not said)
};

/// Reads `path`. Throws an input Error naming the file for a zip that is not a Keras archive, an
/// archive without model.weights.h5, a config.json that is not JSON, or a damaged archive.
Contents read(const std::string& path);

/// Opens a read-only HDF5 file image in memory without copying it: `image` stays alive as long
/// as the file is open. Named and described as openImage does.
h5::Handle openShared(const std::shared_ptr<const std::vector<char>>& image,
                      const std::string& label, const std::string& entry = kWeightsEntry);

/// read(path) with config.json added to the weights as their root attribute `model_config` when
/// it describes a graph; kept for the next call while the file stays the same (loading a model
/// opens its weights many times).
std::shared_ptr<const Contents> cachedRead(const std::string& path);

/// Opens an HDF5 file image in memory (writes, when `writable`, stay in memory), named
/// `label`/`entry` (a name that cannot be a file on disk) and in messages "`entry` in '`label`'".
h5::Handle openImage(const std::vector<char>& image, const std::string& label,
                     const std::string& entry = kWeightsEntry, bool writable = false);

/// The archive's weights as a read-only HDF5 file in memory whose root attribute `model_config`
/// holds config.json when it describes a graph, so the archive reads like a Keras file with a
/// graph.
h5::Handle openWeights(const std::string& path);

/// The bytes of an HDF5 file opened with openImage, with its changes.
std::vector<char> imageOf(hid_t file, const std::string& label);

/// A new archive: every entry of `path` in its order, with the entries named in `replaced`
/// holding the new bytes and every other entry's contents unchanged. Throws an input Error
/// naming `output` on failure.
std::vector<char> rewrite(const std::string& path,
                          const std::map<std::string, std::vector<char>>& replaced,
                          const std::string& output);

}  // namespace cle::core::archive
