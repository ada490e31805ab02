#pragma once
// Per-format layer discovery. Each function lists the weighted layers of an open file.
#include <hdf5.h>

#include <optional>
#include <string>
#include <vector>

#include "cle/core/model.h"
#include "cle/core/weight_file.h"
#include "formats/keras_config.h"

namespace cle::core::formats {

/// inspectFile on a file already open (`path` names it in messages and identifies it). `config`
/// is the file's model_config as readKerasConfig() returned it, read here when null.
ModelInfo inspectOpen(hid_t file, const std::string& path, std::optional<Layout> layout,
                      const KerasConfig* config = nullptr);

/// Reads what `info` lists from the open `file`: every supported layer's weights and bias, the
/// 1-D datasets no layer owns (batch-norm vectors), after comparing the memory the weights claim
/// with `maxBytes` (0: what is available). The model keeps `config` (readKerasConfig() of the
/// same file, null when it has none) as its model_config.
Model readModel(hid_t file, ModelInfo info, std::int64_t maxBytes,
                std::shared_ptr<const KerasConfig> config);

/// Detects the format; for Keras 2 sets `kerasRoot` to the group holding `layer_names`.
Format detect(hid_t file, std::string& kerasRoot);

std::vector<LayerInfo> listPyTorch(hid_t file);
/// Keras 2 layers; `config` (may be null) gives their classes and graph order.
std::vector<LayerInfo> listKeras2(hid_t file, const std::string& root, const KerasConfig* config);
std::vector<LayerInfo> listKeras3(hid_t file);
std::vector<LayerInfo> listGeneric(hid_t file);

/// One weight of a Keras 2 layer group as its `weight_names` list it.
struct KerasWeight {
    std::string owner;     ///< the name's part before its last '/' ("" when it has none)
    std::string variable;  ///< the last part without its ":0" ("kernel", "moving_mean", ...)
    std::string path;      ///< the dataset: the name under `group`, else under the root group
};
/// The weights the Keras 2 layer group `group` lists that exist in the file, in listed order
/// (none when `group` is not a group). `root` is the group holding layer_names.
std::vector<KerasWeight> keras2Weights(hid_t file, const std::string& root,
                                       const std::string& group);
/// The datasets of a Keras 3 layer group's `vars`, in the order the layer created them (vars/0,
/// vars/1, ..., "2" before "10"); none without `vars`.
std::vector<std::string> keras3Weights(hid_t file, const std::string& group);

/// tf.keras 2.13 to 2.15 store a Keras 3 style file's layers under this group instead of `layers`.
inline constexpr const char* kLegacyLayers = "_layer_checkpoint_dependencies";
/// The group holding a Keras 3 file's layers: "layers", kLegacyLayers, or "" for neither.
std::string keras3Container(hid_t file);
/// The real name of the layer stored in `group` (the `name` attribute Keras >= 3.6 writes on its
/// `vars` group), else `fallback`.
std::string keras3Name(hid_t file, const std::string& group, const std::string& fallback);
/// Groups below a Keras 3 file's layer container that are read; real models nest a few levels.
inline constexpr int kMaxKeras3Depth = 64;
/// Address of the group at `path` (nothing when it cannot be read): a group reached twice
/// through hard links, even one linked into itself, is visited once.
std::optional<haddr_t> groupAddress(hid_t file, const std::string& path);

/// Marks unsupported, with the reason, every layer whose weights or bias cross an HDF5 external
/// link (they live in another file) or are one HDF5 dataset shared with another layer, and every
/// layer whose weights were never written (only a claimed shape).
void markUnsafeStorage(hid_t file, std::vector<LayerInfo>& layers);

/// Sets kind-independent facts that follow from layout and shape (support for pairing).
void finishLayer(LayerInfo& layer, const std::string& file);

}  // namespace cle::core::formats
