#pragma once
// A weight file loaded into memory: its layer list and every layer's weight and bias.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cle/core/tensor.h"
#include "cle/core/weight_file.h"

namespace cle::core {

/// model_config parsed (formats/keras_config.h).
struct KerasConfig;
/// Where a Keras file keeps what its network's evaluation reads besides the layers
/// (eval/storage.h).
struct KerasStorage;

struct Layer {
    LayerInfo info;
    Tensor weight;
    std::optional<Tensor> bias;
};

struct Model {
    ModelInfo info;
    std::vector<Layer> layers;  ///< same order as info.layers
    /// The 1-D floating-point datasets no layer owns (batch-norm gamma, beta, mean, variance), by
    /// dataset path: read with the weights, so that no later stage reads the file again.
    std::map<std::string, Tensor> parameters;
    /// The file's layer graph as stored (root attribute model_config), "" when it has none.
    std::string modelConfig;
    /// modelConfig parsed once when it was read (null when the file has none or the model was
    /// put together in memory); every later reader shares it.
    std::shared_ptr<const KerasConfig> config;
    /// True when parameters and modelConfig were read with the weights (loadModel); false for a
    /// model put together in memory, whose stages read the file named by info.path instead.
    bool parametersLoaded = false;
    /// Recorded at load (loadInput) while the file was open: where the file stores what
    /// evaluating its network reads besides the layers (batch-norm and PReLU parameters, Keras 3
    /// layer groups), so that checking the loaded network does not open the file again. Null
    /// otherwise; the evaluator then reads the file named by info.path.
    std::shared_ptr<const KerasStorage> storage;

    /// A dataset of `parameters`, nullptr when not loaded.
    const Tensor* parameter(const std::string& path) const;

    /// nullptr when no layer has that name.
    const Layer* find(const std::string& name) const;
    Layer* find(const std::string& name);
};

/// Loads every layer of `path`. Throws Error naming the file and dataset on failure; non-finite
/// weights are not an error here (they are when the layer is equalized). Before reading, the
/// memory the weights need (as float32) is compared with `maxBytes` (0: the memory available
/// now): a file claiming more is an Error naming the largest dataset and its size.
Model loadModel(const std::string& path, std::optional<Layout> layout = std::nullopt,
                std::int64_t maxBytes = 0);

/// The memory available to this process now (MemAvailable), in bytes; 0 when unknown.
std::int64_t availableMemory();

/// Replaces the weights and biases of the layers in `changed` (matched by name).
void applyLayers(Model& model, const std::vector<Layer>& changed);

}  // namespace cle::core
