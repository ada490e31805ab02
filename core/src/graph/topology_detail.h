#pragma once
// The two ways Topology::build fills a Topology: from a Keras layer graph, or guessed from names
// and shapes.
#include <hdf5.h>

#include <optional>
#include <string>

#include "cle/core/topology.h"
#include "graph/keras_graph.h"

namespace cle::core::detail {

/// Topology::build on a file already open (the load stage opens the input once). `graph` is the
/// file's Keras graph when the caller has built it from the model_config read at load; when
/// null the file's own model_config (or `config`) is read.
Topology buildTopology(const ModelInfo& info, hid_t file, const TopologyOptions& options,
                       const keras::Graph* graph = nullptr);

/// Fills `topology` from the graph of a Keras file. `root` is the group holding layer_names
/// (Keras 2); `keras3` selects Keras 3's storage naming. Returns false, leaving `topology`
/// untouched, when none of the graph's layers names a weighted layer of `info`.
bool analyseKeras(const ModelInfo& info, const keras::Graph& graph, hid_t file,
                  const std::string& root, bool keras3, Topology& topology);

/// Fills `topology` with guessed links between consecutive layers (in natural name order when
/// `sortByName`, else in `info`'s order) that no unclaimed normalization or possible depthwise
/// layer could sit between, and with the batch norms of attributeNorms().
void guessPairs(const ModelInfo& info, hid_t file, bool sortByName, const TopologyOptions& options,
                Topology& topology);

/// Finds the file's normalization parameter sets whatever their names (PyTorch running_mean /
/// running_var, Keras moving_mean / moving_variance, Keras 3 `vars` of 1-D vectors of one length)
/// and attributes them to layers: the user's `options.foldBn` first, then PyTorch naming
/// (`features.3` -> `features.4`, `conv1` -> `bn1`, `<layer>_BN`, `<layer>.bn`, ...) when the
/// channel counts agree. Fills `topology.batchNorms_` and `topology.unattributed_`. Throws a
/// usage Error for an attribution that names no layer or batch norm, or whose channels differ.
void attributeNorms(const ModelInfo& info, hid_t file, const TopologyOptions& options,
                    Topology& topology);

/// Why a pair whose first layer is `first` is refused because of `topology.unattributed_`, and
/// how to fix it; nullopt when no unclaimed normalization could follow `first`.
std::optional<std::string> unattributedProblem(const Topology& topology, const std::string& first);

/// Why `norm` stops a pair whose first layer is `layer`, and how to fix it.
std::string unattributedReason(const UnattributedNorm& norm, const std::string& layer);

/// Why `first` and `second` cannot be paired: they lie on the two sides of nested model `model`'s
/// boundary.
std::string nestedBoundaryReason(const std::string& first, const std::string& second,
                                 const std::string& model);

/// Name order with digit runs compared as numbers: "layer2" < "layer10", "a.2" < "a.10".
bool naturalLess(const std::string& a, const std::string& b);

}  // namespace cle::core::detail
