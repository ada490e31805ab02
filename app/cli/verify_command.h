#pragma once
// `cle verify ORIGINAL CANDIDATE`: the two networks on the same inputs.
#include <iosfwd>
#include <memory>
#include <string>

#include "cle/core/model.h"
#include "cle/core/run_plan.h"
#include "cle/core/verification.h"
#include "commands.h"

namespace CLI {
class App;
}

namespace cle::cli {

struct VerifyArgs {
    std::string original;
    std::string candidate;
    std::string inputs;
    int samples = 8;
    std::uint64_t seed = 0;
    std::string inputShape;  ///< "H,W,C"
    double tolerance = 1e-4;
    bool activations = false;
    bool json = false;
};

/// Registers the subcommand and its options on `app`.
CLI::App* addVerifyCommand(CLI::App& app, VerifyArgs& a);
int verifyCommand(const VerifyArgs& a, std::ostream& out);

/// `equalize --verify [--inputs IN.h5] [--input-shape H,W,C] [--tolerance T]`.
void addVerifyOptions(CLI::App* equalize, EqualizeArgs& a);

/// `equalize --verify`: the original network, built before equalizing so that a file that cannot
/// be evaluated is an error before any work; then the equalized result checked in memory.
class ResultCheck {
public:
    /// `original` is the loaded model, shared (not copied) and evaluated without opening the
    /// input again.
    ResultCheck(const EqualizeArgs& a, std::shared_ptr<const core::Model> original);
    core::Verification run(const core::RunPlan& plan, const std::vector<core::Layer>& equalized,
                           const std::atomic<bool>* cancel) const;

private:
    const EqualizeArgs& args_;
    std::shared_ptr<const core::Model> model_;
    core::Network network_;
    std::vector<std::int64_t> inputShape_;  ///< --input-shape, empty when not given
};

/// The human-readable lines.
void printVerification(const core::Verification& v, std::ostream& out);
/// After `equalize --verify`'s lines: a note when the check rounded the equalized weights to a
/// storage type narrower than float32 (nothing otherwise).
void printStorageNote(const std::vector<core::Layer>& equalized, std::ostream& out);
/// "--input-shape 224,224,3" as numbers; a usage Error for anything else.
std::vector<std::int64_t> parseInputShape(const std::string& text);

}  // namespace cle::cli
