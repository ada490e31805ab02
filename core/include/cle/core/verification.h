#pragma once
// Whether a candidate network computes the same function as the original, and how well each
// survives INT8 weights, measured at the network's output on the same inputs.
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cle/core/evaluator.h"
#include "cle/core/model.h"
#include "cle/core/run_plan.h"

namespace cle::core {

struct VerifyOptions {
    std::string inputsFile;  ///< "" = uniform random inputs
    int samples = 8;         ///< random inputs: how many
    std::uint64_t seed = 0;
    std::vector<std::int64_t> inputShape;  ///< replaces an input shape the model leaves open
    /// > 0: a dimension the model leaves open (and inputShape does not give) takes this size.
    std::int64_t openSize = 0;
    double tolerance = 1e-4;
    /// Also W8A8: UINT8 per-tensor activations at every weighted layer's input, ranges calibrated
    /// on a separate batch (uniform, seed + 1).
    bool activations = false;
    int threads = 0;
    const std::atomic<bool>* cancel = nullptr;
};

struct Verification {
    std::string inputSource;  ///< "file" or "uniform"
    std::int64_t count = 0;
    std::int64_t openSize = 0;  ///< the size given to open input dimensions (0: none were open)
    /// Largest change of any output over the original's largest output magnitude.
    double maxRelativeChange = 0;
    /// The same against the original run with the candidate's ReLU6 relaxations (if any).
    std::optional<double> relaxationMatchedChange;
    std::vector<std::string> relaxed;  ///< ReLU6 layers the candidate evaluates as ReLU
    double tolerance = 0;
    bool preserved = false;
    bool beforeSoftmax = false;  ///< INT8 figures compare centred values before a final softmax
    double perTensorOriginalDb = 0, perTensorCandidateDb = 0;
    double perChannelOriginalDb = 0, perChannelCandidateDb = 0;
    /// When the candidate relaxes ReLU6: INT8 weights per tensor of the relaxed original and of
    /// the candidate, both against the relaxed original's float output (equalization's own gain).
    std::optional<double> relaxedPerTensorOriginalDb, relaxedPerTensorCandidateDb;
    /// With `activations`: weights per tensor and activations UINT8.
    std::optional<double> w8a8OriginalDb, w8a8CandidateDb;
    /// Classifiers: fraction of samples whose top-1 class under INT8 weights is the original's.
    std::optional<double> top1Original, top1Candidate;
    double seconds = 0;
};

/// The inputs of a verification for `net`: the file's datasets (`inputs`, or one per input layer
/// name) or seeded uniform samples in [-1, 1]. Throws a usage Error when a shape stays open.
std::vector<Tensor> verificationInputs(const Network& net, const VerifyOptions& options,
                                       std::string& source);

/// Reads every dataset at the root of an inputs file (`--inputs`) as a verification reads it,
/// and returns how many there are: what `cle check --inputs` does before the application reads
/// such a file itself.
int readInputsFile(const std::string& path);

/// Compares `candidate` with `original` (and, when the candidate relaxes ReLU6 layers,
/// with `originalRelaxed`, the original evaluated with the same relaxations).
Verification verifyNetworks(const Network& original, const Network* originalRelaxed,
                            const Network& candidate, const std::vector<std::string>& relaxed,
                            const VerifyOptions& options);

/// The network check of a run's result as the export writes it: `original` (the network of
/// `loaded`) against `loaded` with `equalized`'s layers in their place, `plan`'s batch norms
/// folded (identities) and its ReLU6 layers relaxed; `equalized` rounded to the precision of
/// float16 / bfloat16 datasets, as stored. Nothing is copied but what the evaluator
/// holds; a model loaded by loadInput is evaluated without opening its file again.
Verification verifyResult(const Network& original, const Model& loaded, const RunPlan& plan,
                          const std::vector<Layer>& equalized, const VerifyOptions& options);

/// Both files' networks: their layer graphs must match except for ReLU6 layers relaxed to ReLU
/// in the candidate (an input Error names the first difference).
Verification verifyFiles(const std::string& original, const std::string& candidate,
                         const VerifyOptions& options);

/// The figures as JSON text: {"inputs": {...}, "function": {...}, "int8": {...},
/// "int8_verdict": {"change": "better"|"unchanged"|"worse", "gain_db"} | null (function changed),
/// "top1_agreement": {...} | null, "seconds": s}; a figure that is not finite is null.
std::string verificationJson(const Verification& v);

}  // namespace cle::core
