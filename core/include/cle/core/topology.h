#pragma once
// Which layer pairs can be equalized without changing the network's function, from the layer
// graph (Keras model_config) or, for files without one (PyTorch state dicts), from names and
// shapes, marked as guessed.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cle/core/pairs.h"
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
    std::optional<BatchNormRef> batchNorm;   ///< folded into `first` before equalizing
    std::vector<std::string> relu6;          ///< ReLU6 / max_value activations crossed
    std::map<std::string, double> relu6Max;  ///< their clip level where it is not 6
    bool guessed = false;                    ///< no graph: inferred from names and shapes
    /// The batch norm is followed by a ReLU (or a relaxed ReLU6) and then only by steps that
    /// commute with subtracting a constant per channel: high biases can be absorbed.
    bool reluAfterBatchNorm = false;
};

struct Suggestion {
    std::vector<std::string> layers;  ///< a chain: consecutive pairs share a layer
    bool guessed = false;
};

struct Rejection {
    std::vector<std::string> layers;  ///< usually two names
    std::string reason;               ///< one sentence a person can act on
};

/// A region the graph admits, with what has to be folded or relaxed for it.
struct RegionLink {
    Region region;
    std::vector<BatchNormRef> batchNorms;  ///< folded into sources before equalizing
    std::vector<std::string> relu6;        ///< ReLU6 / max_value activations crossed
};

/// A region that equalizing would change the function of, with the reason.
struct RegionRejection {
    Region region;  ///< the sources and sinks found before the reason stopped the search
    std::string reason;
};

/// Ends the reason of a rejected pair that an admitted region equalizes.
inline constexpr const char* kInRegion = "equalized in a region instead";

struct PairPlan {
    std::vector<Suggestion> suggested;
    std::vector<Rejection> rejected;
    std::vector<RegionLink> regions;  ///< admitted regions (see Topology::regions_)
    std::vector<RegionRejection> rejectedRegions;
};

/// What the user tells Topology::build about a file without a layer graph.
struct TopologyOptions {
    /// (layer, batch norm) pairs: the batch norm follows the layer and is folded into it. Each
    /// batch norm must have as many channels as the layer has outputs.
    std::vector<std::pair<std::string, std::string>> foldBn;
    /// Epsilon of every batch norm found without a graph (default: PyTorch 1e-5, Keras 1e-3).
    std::optional<double> bnEpsilon;
};

/// A normalization parameter set in a file without a graph that no layer claims: naming does not
/// attribute it and the user did not (TopologyOptions::foldBn).
struct UnattributedNorm {
    std::string name;
    std::int64_t channels = 0;
    /// False when its vectors cannot be told apart (a Keras 3 batch norm with scale or center
    /// off, a layer normalization), so it cannot be folded even when attributed.
    bool foldable = true;
    int vectors = 4;                       ///< how many 1-D vectors the set holds
    std::vector<std::string> couldFollow;  ///< layers with `channels` output channels
};

class Topology {
public:
    /// Reads the graph of `info`'s file (Keras model_config), or guesses it for other formats.
    /// Throws Error naming the file for an unreadable model_config, and a usage Error when
    /// `options` attribute a batch norm that does not fit, or are given for a file with a graph.
    static Topology build(const ModelInfo& info, const TopologyOptions& options = {});

    /// True when the graph came from the file (not guessed).
    bool known() const { return known_; }
    /// Suggested chains and rejected candidates with reasons. With `allowRelu6`, pairs across a
    /// ReLU6 (or a ReLU with max_value) are suggested too.
    PairPlan suggest(bool allowRelu6) const;
    /// The link between `first` and `second`, or the reason pairing them would change the
    /// function (nullopt reason). For files without a graph the link is accepted as guessed
    /// unless a normalization no layer claims could follow `first`.
    std::optional<Link> link(const std::string& first, const std::string& second, bool allowRelu6,
                             std::string* reason) const;
    /// Every link between weighted layers that the graph admits (suggested ones).
    const std::vector<Link>& links() const { return links_; }
    /// The batch norm that directly follows `layer` and can be folded into it, if any.
    const BatchNormRef* batchNormAfter(const std::string& layer) const;
    /// The admitted region with exactly these sources and sinks (in any order), or the reason
    /// there is none (a ReLU6 crossed without `allowRelu6`, a rejected region, no such region).
    std::optional<RegionLink> region(const std::vector<std::string>& sources,
                                     const std::vector<std::string>& sinks, bool allowRelu6,
                                     std::string* reason) const;

    // Filled by build(); public for the implementation's helpers.
    /// Files a candidate pair found in a graph: rejected with `problem` when there is one, else
    /// with pairProblem()'s reason (unknown layer, unsupported kind, channel mismatch), else
    /// admitted into links_.
    void addCandidate(const ModelInfo& info, Link link, std::optional<std::string> problem);
    bool known_ = false;
    std::vector<Link> links_;          ///< admissible pairs (relu6 ones included, flagged)
    std::vector<Rejection> rejected_;  ///< candidates that are never admissible
    std::vector<std::string> order_;   ///< weighted layers in graph order
    /// Every foldable batch norm, `after` naming its layer: from the graph (a batch norm that is
    /// the only consumer of a layer, over its channel axis) or, for files without a graph,
    /// attributed by naming or by TopologyOptions::foldBn.
    std::vector<BatchNormRef> batchNorms_;
    /// Layers of a nested model -> the (outermost) nested model's name.
    std::map<std::string, std::string> nestedIn_;
    /// Files without a graph: normalization parameter sets no layer claims.
    std::vector<UnattributedNorm> unattributed_;
    /// Regions through Adds, Concatenates and fan-outs (a plain chain is a Link instead), and the
    /// ones refused with their reason.
    std::vector<RegionLink> regions_;
    std::vector<RegionRejection> rejectedRegions_;
};

/// `json` text: {"suggested": [{"layers": [...], "guessed": false}], "rejected": [{"layers":
/// [...], "reason": "..."}], "regions": [{"sources": [...], "sinks": [...]}], "rejected_regions":
/// [{"sources": [...], "sinks": [...], "reason": "..."}]} as `cle pairs --json` prints it.
std::string planJson(const PairPlan& plan);

}  // namespace cle::core
