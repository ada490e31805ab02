#pragma once
// Which layer pairs can be equalized without changing the network's function, from the layer
// graph (Keras model_config) or, for files without one (PyTorch state dicts), from names and
// shapes, marked as guessed.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cle/core/weight_file.h"

namespace cle::core {

/// A batch normalization directly after a weighted layer, to be folded into it.
struct BatchNormRef {
    std::string name;       ///< the batch norm layer's own name
    std::string after;      ///< the weighted layer it follows
    std::string gammaPath;  ///< dataset paths; empty when absent (gamma = 1, beta = 0)
    std::string betaPath;
    std::string meanPath;
    std::string varPath;
    double epsilon = 1e-3;  ///< from the layer config; Keras default 1e-3, PyTorch 1e-5
};

/// What lies between two weighted layers that may be paired.
struct Link {
    std::string first;
    std::string second;
    std::optional<BatchNormRef> batchNorm;  ///< folded into `first` before equalizing
    std::vector<std::string> relu6;         ///< ReLU6 / max_value activations crossed
    bool guessed = false;                   ///< no graph: inferred from names and shapes
};

struct Suggestion {
    std::vector<std::string> layers;  ///< a chain: consecutive pairs share a layer
    bool guessed = false;
};

struct Rejection {
    std::vector<std::string> layers;  ///< usually two names
    std::string reason;               ///< one sentence a person can act on
};

struct PairPlan {
    std::vector<Suggestion> suggested;
    std::vector<Rejection> rejected;
};

class Topology {
public:
    /// Reads the graph of `info`'s file (Keras model_config), or guesses it for other formats.
    /// Throws Error naming the file for an unreadable model_config.
    static Topology build(const ModelInfo& info);

    /// True when the graph came from the file (not guessed).
    bool known() const { return known_; }
    /// Suggested chains and rejected candidates with reasons. With `allowRelu6`, pairs across a
    /// ReLU6 (or a ReLU with max_value) are suggested too.
    PairPlan suggest(bool allowRelu6) const;
    /// The link between `first` and `second`, or the reason pairing them would change the
    /// function (nullopt reason). For files without a graph the link is accepted as guessed.
    std::optional<Link> link(const std::string& first, const std::string& second,
                             bool allowRelu6, std::string* reason) const;
    /// Every link between weighted layers that the graph admits (suggested ones).
    const std::vector<Link>& links() const { return links_; }
    /// The batch norm that directly follows `layer` and can be folded into it, if any.
    const BatchNormRef* batchNormAfter(const std::string& layer) const;

    // Filled by build(); public for the implementation's helpers.
    bool known_ = false;
    std::vector<Link> links_;          ///< admissible pairs (relu6 ones included, flagged)
    std::vector<Rejection> rejected_;  ///< candidates that are never admissible
    std::vector<std::string> order_;   ///< weighted layers in graph order
    /// Every foldable batch norm, `after` naming its layer: from the graph (a batch norm that is
    /// the only consumer of a layer, over its channel axis) or matched by naming (no graph).
    std::vector<BatchNormRef> batchNorms_;
    /// Layers of a nested model -> the (outermost) nested model's name.
    std::map<std::string, std::string> nestedIn_;
};

/// `json` text: {"suggested": [{"layers": [...], "guessed": false}], "rejected": [{"layers":
/// [...], "reason": "..."}]} as `cle pairs --json` prints it.
std::string planJson(const PairPlan& plan);

}  // namespace cle::core
