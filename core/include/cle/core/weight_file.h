#pragma once
// Reading the layer list of an HDF5 weight file: PyTorch state dicts, Keras 2 legacy .h5,
// Keras 3 .weights.h5, and any other file with floating-point datasets.
#include <cstddef>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "cle/core/dtype.h"
#include "cle/core/file_identity.h"
#include "cle/core/tensor.h"

namespace cle::core {

enum class Format { PyTorch, Keras2, Keras3, Generic, Onnx };
/// Torch: weights are [out, in, k...]. Keras: channels-last, [k..., in, out].
enum class Layout { Torch, Keras };

std::string toString(Format f);
std::string toString(Layout l);
/// "torch" or "keras"; throws a usage Error otherwise.
Layout parseLayout(const std::string& s);

struct LayerInfo {
    std::string name;  ///< what `cle inspect` prints and `--pairs` takes
    std::string kind;  ///< Linear, Conv2d, Dense, Conv2D, DepthwiseConv2D, ...
    Layout layout = Layout::Torch;
    std::string weightPath;  ///< absolute HDF5 dataset path
    std::string biasPath;    ///< empty when the layer has no bias
    std::vector<std::int64_t> shape;
    DType dtype = DType::Float32;
    DType biasDtype = DType::Float32;
    std::int64_t biasSize = 0;  ///< number of bias values (0 without bias)
    bool depthwise = false;     ///< one channel axis that is both input and output
    bool supported = true;      ///< false: listed, but cannot take part in a pair
    std::string unsupportedReason;

    int rank() const { return static_cast<int>(shape.size()); }
    /// Axis of the output channels for this layer's layout (depthwise: the channel axis).
    int outAxis() const;
    /// Axis of the input channels (depthwise: the same axis as outAxis()).
    int inAxis() const;
    std::int64_t outChannels() const { return shape.at(outAxis()); }
    std::int64_t inChannels() const { return shape.at(inAxis()); }
    bool hasBias() const { return !biasPath.empty(); }
};

struct ModelInfo {
    std::string path;
    std::optional<FileIdentity> identity;  ///< of `path` when it was inspected
    Format format = Format::Generic;
    Layout layout = Layout::Torch;
    std::vector<LayerInfo> layers;
    bool kerasArchive = false;  ///< a Keras 3 .keras archive (its graph is its config.json)
    bool subclassed = false;  ///< a .keras archive of a subclassed model: config.json has no graph
    /// Keras 2: the group holding layer_names ("/" or "/model_weights"), found when the format
    /// was detected; "" for other formats.
    std::string kerasRoot;

    /// nullptr when no layer has that name. Constant time once indexLayers() has run; still
    /// correct (by a scan) for layers added since. Call indexLayers() again after renaming one.
    const LayerInfo* find(const std::string& name) const;
    /// Position of layer `name` in `layers`, or -1 (as find()).
    std::ptrdiff_t position(const std::string& name) const;
    /// Indexes `layers` by name for find() (inspectFile does it).
    void indexLayers();
    std::unordered_map<std::string, std::size_t> byName;  ///< made by indexLayers()
};

/// Lists the layers of `path` without reading any weights. `layout` overrides the detected layout.
/// Throws Error (Input) for a missing, unreadable or non-HDF5 file, naming it.
ModelInfo inspectFile(const std::string& path, std::optional<Layout> layout = std::nullopt);

/// Turns off, for the whole process, the HDF5 library's own printing of errors on stderr: every
/// failure is reported in one sentence of ours. This also mutes the note HDF5 1.10.8 prints when
/// it shuts down after some damaged files ("infinite loop closing library": memory that HDF5
/// itself lost on a failed lookup, with no object of ours left open).
void muteHdf5Diagnostics();

/// Reads one floating-point dataset as float32. Throws Error naming file and dataset on failure
/// (not a float dataset, unreadable, value out of float32 range).
Tensor readDataset(const std::string& file, const std::string& dataset);

}  // namespace cle::core
