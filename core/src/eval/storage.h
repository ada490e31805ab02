#pragma once
// What compiling a Keras network asks of its weight file besides the Model's layers: where
// Keras 3 stores each layer, where a batch norm's and a PReLU's parameters are, and those
// datasets. Answered from the file, or from what the load recorded while the file was open, so
// that checking a loaded network does not open its file again.
#include <hdf5.h>

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "cle/core/model.h"
#include "graph/keras_graph.h"

namespace cle::core {

/// The answers a Keras file gave when its network was compiled at load (eval::recordStorage).
/// Datasets are not kept here when Model::parameters holds them.
struct KerasStorage {
    std::string root;       ///< the group holding layer_names ("/" for Keras 3)
    std::string container;  ///< Keras 3: the group of the model's layers ("" for Keras 2)
    std::map<std::string, std::map<std::string, keras::Keras3Place>> places;
    std::map<std::string, std::pair<std::optional<BatchNormRef>, std::string>> batchNorms;
    std::map<std::string, std::map<std::string, std::string>> variables;
    std::map<std::string, bool> datasets;
    std::map<std::string, Tensor> tensors;  ///< datasets read that Model::parameters lacks
};

}  // namespace cle::core

namespace cle::core::eval {

class Storage {
public:
    virtual ~Storage() = default;
    virtual const std::string& root() = 0;
    virtual const std::string& container() = 0;
    /// keras::keras3Places of `graph`.
    virtual std::map<std::string, keras::Keras3Place> places(const keras::Graph& graph,
                                                             const std::string& groups,
                                                             const std::string& nested) = 0;
    /// keras::batchNormRef of `bn` in `group`.
    virtual std::optional<BatchNormRef> batchNorm(const std::string& group, const keras::Node& bn,
                                                  std::string* problem) = 0;
    /// keras::layerVariables of `layer` in `group`.
    virtual std::map<std::string, std::string> variables(const std::string& group,
                                                         const keras::Node& layer) = 0;
    virtual bool isDataset(const std::string& path) = 0;
    /// A dataset as float32 (Model::parameters when loaded there).
    virtual Tensor read(const std::string& path) = 0;
};

/// The storage of `model` for compiling the file `path`: what the load recorded when `model`
/// was loaded from `path`, the file itself (opened when first asked, unless `open` is the file
/// open already) for anything else.
std::unique_ptr<Storage> storageFor(const std::string& path, const Model& model,
                                    hid_t open = H5I_INVALID_HID);

/// The open `file` of `model`, every answer it gives written down in `out`.
std::unique_ptr<Storage> recordingStorage(hid_t file, const Model& model, KerasStorage& out);

/// Compiles the network of `graph` over the open `file` of `model` without building it (no
/// weights are copied), and returns every answer the file gave; what the compile did not reach
/// is asked of the file later. An unsupported graph records what was reached, and throws not.
std::shared_ptr<const KerasStorage> recordStorage(hid_t file, const Model& model,
                                                  const keras::Graph& graph);

}  // namespace cle::core::eval
