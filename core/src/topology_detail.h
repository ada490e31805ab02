#pragma once
// The two ways Topology::build fills a Topology: from a Keras layer graph, or guessed from names
// and shapes.
#include <hdf5.h>

#include <string>

#include "cle/core/topology.h"
#include "keras_graph.h"

namespace cle::core::detail {

/// Fills `topology` from the graph of a Keras file. `root` is the group holding layer_names
/// (Keras 2); `keras3` selects Keras 3's storage naming. Returns false, leaving `topology`
/// untouched, when none of the graph's layers names a weighted layer of `info`.
bool analyseKeras(const ModelInfo& info, const keras::Graph& graph, hid_t file,
                  const std::string& root, bool keras3, Topology& topology);

/// Fills `topology` with guessed links between consecutive layers (in natural name order when
/// `sortByName`, else in `info`'s order) and with batch norms found by naming.
void guessPairs(const ModelInfo& info, hid_t file, bool sortByName, Topology& topology);

/// Why `first` and `second` cannot be paired: they lie on the two sides of nested model `model`'s
/// boundary.
std::string nestedBoundaryReason(const std::string& first, const std::string& second,
                                 const std::string& model);

/// Name order with digit runs compared as numbers: "layer2" < "layer10", "a.2" < "a.10".
bool naturalLess(const std::string& a, const std::string& b);

}  // namespace cle::core::detail
