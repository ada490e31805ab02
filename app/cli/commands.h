#pragma once
// The work behind each `cle` subcommand, separate from argument parsing.
#include <atomic>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "cle/core/topology.h"
#include "cle/core/weight_file.h"

namespace cle::cli {

struct InspectArgs {
    std::string file;
    bool json = false;
    std::string layout;            ///< "" = detect
    std::int64_t maxMemoryMb = 0;  ///< 0: the memory available
    bool inputsFile = false;       ///< check: FILE holds a network's inputs (--inputs)
};

struct EqualizeArgs {
    std::string input;
    std::string output;
    std::string pairs;
    std::string pairsFile;
    double threshold = 1e-4;
    int maxSweeps = 1000;
    std::string layout;
    std::string report;
    bool quiet = false;
    bool force = false;
    bool autoPairs = false;
    bool acceptGuesses = false;
    bool allowRelu6 = false;
    std::vector<std::string> foldBn;  ///< "LAYER=BN", files without a layer graph
    std::optional<double> bnEpsilon;
    std::int64_t maxMemoryMb = 0;  ///< 0: the memory available
    bool verify = false;           ///< run both networks before writing
    std::string verifyInputs;      ///< --inputs
    std::string verifyInputShape;  ///< --input-shape "H,W,C"
    double verifyTolerance = 1e-4;
    bool absorbBias = false;  ///< --absorb-bias: high-bias absorption after equalizing
};

struct PairsArgs {
    std::string file;
    bool json = false;
    bool allowRelu6 = false;
    std::string layout;
    std::vector<std::string> foldBn;
    std::optional<double> bnEpsilon;
};

/// The topology options of `--fold-bn LAYER=BN` (repeated) and `--bn-epsilon`. Throws a usage
/// Error for an entry without a layer or a batch norm name.
core::TopologyOptions topologyOptions(const std::vector<std::string>& foldBn,
                                      std::optional<double> bnEpsilon);

int inspectCommand(const InspectArgs& a, std::ostream& out);
/// `cle check`: reads the file as a run or the application does (weights, batch norms, layer
/// graph) and prints one line; exit 0 when it loads.
int checkCommand(const InspectArgs& a, std::ostream& out);
int pairsCommand(const PairsArgs& a, std::ostream& out);
int equalizeCommand(const EqualizeArgs& a, std::ostream& out, std::ostream& err,
                    const std::atomic<bool>* cancel);

}  // namespace cle::cli
