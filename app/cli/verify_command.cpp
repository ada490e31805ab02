// `cle verify`: whether the candidate computes the original's function, and the INT8 output SQNR
// of both.
#include "verify_command.h"

#include "cle/core/stored_values.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "cle/core/error.h"
#include "cle/core/int8_verdict.h"
#include "cli.h"

namespace cle::cli {

namespace {

std::string figure(double v, int precision = 3) {
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    std::ostringstream o;
    o << std::setprecision(precision) << v;
    return o.str();
}

std::string db(double v) {
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    std::ostringstream o;
    o << std::fixed << std::setprecision(1) << v;
    return o.str();
}

}  // namespace

std::vector<std::int64_t> parseInputShape(const std::string& text) {
    std::vector<std::int64_t> shape;
    std::stringstream s(text);
    std::string part;
    while (std::getline(s, part, ',')) {
        size_t used = 0;
        long v = 0;
        try {
            v = std::stol(part, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used != part.size() || v <= 0)
            throw core::usageError("--input-shape takes positive integers like 224,224,3, not '" +
                                   text + "'");
        shape.push_back(v);
    }
    return shape;
}

CLI::App* addVerifyCommand(CLI::App& app, VerifyArgs& a) {
    auto* cmd = app.add_subcommand(
        "verify", "Run both networks on the same inputs: same function? INT8 output SQNR?");
    cmd->add_option("ORIGINAL", a.original, "Keras .h5 or .keras file with a layer graph")
        ->required();
    cmd->add_option("CANDIDATE", a.candidate, "The equalized file")->required();
    cmd->add_option("--inputs", a.inputs,
                    "HDF5 file with a float32 dataset 'inputs' [N, ...] (or one per input layer)");
    cmd->add_option("--samples", a.samples, "Random inputs: how many (default 8)");
    cmd->add_option("--seed", a.seed, "Random inputs: generator seed (default 0)");
    cmd->add_option("--input-shape", a.inputShape,
                    "Shape of one sample where the model leaves it open, e.g. 224,224,3");
    cmd->add_option("--tolerance", a.tolerance,
                    "Largest relative output change that keeps the function (default 1e-4)");
    cmd->add_flag("--activations", a.activations,
                  "Also W8A8: UINT8 per-tensor activations at every weighted layer's input");
    cmd->add_flag("--json", a.json, "Print JSON");
    return cmd;
}

void printVerification(const core::Verification& v, std::ostream& out) {
    out << "inputs: " << v.count
        << (v.inputSource == "file" ? " samples from the inputs file"
                                    : " uniform random samples in [-1, 1]")
        << "\n";
    const char* verdict = v.preserved ? "kept" : "CHANGED";
    const char* within = v.preserved ? ", within" : ", above";
    if (v.relaxationMatchedChange) {
        // Kept only up to the relaxation: say so first, and what the relaxation itself changes.
        out << "function: " << verdict << " up to the ReLU6 relaxation (max relative change "
            << figure(*v.relaxationMatchedChange) << " against the original with its "
            << v.relaxed.size() << " ReLU6 relaxed to ReLU as in the candidate" << within
            << " tolerance " << figure(v.tolerance) << "); against the original as it is, "
            << figure(v.maxRelativeChange) << "\n";
    } else {
        out << "function: " << verdict << " (max relative change " << figure(v.maxRelativeChange)
            << within << " tolerance " << figure(v.tolerance) << ")\n";
    }
    out << "INT8 output SQNR (dB), original -> candidate"
        << (v.beforeSoftmax ? " (values before the final softmax, centred)" : "") << ":\n"
        << "  weights per tensor:  " << db(v.perTensorOriginalDb) << " -> "
        << db(v.perTensorCandidateDb) << "\n"
        << "  weights per channel: " << db(v.perChannelOriginalDb) << " -> "
        << db(v.perChannelCandidateDb) << "\n";
    if (v.relaxedPerTensorOriginalDb)
        out << "  weights per tensor, ReLU6 relaxed on both sides: "
            << db(*v.relaxedPerTensorOriginalDb) << " -> " << db(*v.relaxedPerTensorCandidateDb)
            << " (against the relaxed original's float output)\n";
    if (v.w8a8OriginalDb)
        out << "  W8A8 (weights per tensor, UINT8 activations): " << db(*v.w8a8OriginalDb) << " -> "
            << db(*v.w8a8CandidateDb) << "\n";
    if (v.top1Original)
        out << "top-1 agreement with the float original (INT8 weights per tensor): "
            << figure(100 * *v.top1Original) << "% -> " << figure(100 * *v.top1Candidate) << "%\n";
    // The network's output is the measure: a per-layer preview gain never stands in for it.
    if (v.preserved)
        out << (core::int8Verdict(v).change == core::Int8Change::Worse ? "warning: " : "verdict: ")
            << core::int8VerdictText(v) << "\n";
}

void addVerifyOptions(CLI::App* equalize, EqualizeArgs& a) {
    auto* verify = equalize->add_flag(
        "--verify", a.verify,
        "Run the original and the equalized network on the same inputs before writing; nothing "
        "is written if the function changed (exit 4)");
    equalize->add_option("--inputs", a.verifyInputs, "Inputs for --verify (see 'cle verify')")
        ->needs(verify);
    equalize
        ->add_option("--input-shape", a.verifyInputShape,
                     "Input shape for --verify where the model leaves it open, e.g. 64,64,3")
        ->needs(verify);
    equalize
        ->add_option("--tolerance", a.verifyTolerance,
                     "Largest relative output change --verify accepts (default 1e-4)")
        ->needs(verify);
}

ResultCheck::ResultCheck(const EqualizeArgs& a, std::shared_ptr<const core::Model> original)
    : args_(a),
      model_(std::move(original)),
      network_(core::Network::load(model_->info.path, *model_)) {
    if (!(a.verifyTolerance >= 0) || !std::isfinite(a.verifyTolerance))
        throw core::usageError("--tolerance must be a number >= 0");
    if (!a.verifyInputShape.empty()) inputShape_ = parseInputShape(a.verifyInputShape);
    if (!a.verifyInputs.empty()) return;
    for (const auto& in : network_.inputs()) {  // random inputs need every size: say so now
        const bool open = in.shape.empty() || std::any_of(in.shape.begin(), in.shape.end(),
                                                          [](std::int64_t d) { return d <= 0; });
        const bool given =
            !inputShape_.empty() && (in.shape.empty() || inputShape_.size() == in.shape.size());
        if (open && !given)
            throw core::usageError(
                "input '" + in.name + "' has no fixed shape in the model; give it with " +
                "--input-shape" +
                (in.shape.empty() ? "" : " (" + std::to_string(in.shape.size()) + " values)"));
    }
}

core::Verification ResultCheck::run(const core::RunPlan& plan,
                                    const std::vector<core::Layer>& equalized,
                                    const std::atomic<bool>* cancel) const {
    core::VerifyOptions o;
    o.inputsFile = args_.verifyInputs;
    o.tolerance = args_.verifyTolerance;
    o.inputShape = inputShape_;
    o.cancel = cancel;
    return core::verifyResult(network_, *model_, plan, equalized, o);
}

void printStorageNote(const std::vector<core::Layer>& equalized, std::ostream& out) {
    const std::string narrow = core::narrowStorage(equalized);
    if (!narrow.empty())
        out << "  (checked with the equalized weights rounded to " << narrow
            << ", as the file stores them; that rounding alone changes the output by about its "
               "precision, see --tolerance)\n";
}

int verifyCommand(const VerifyArgs& a, std::ostream& out) {
    if (!(a.tolerance >= 0) || !std::isfinite(a.tolerance))
        throw core::usageError("--tolerance must be a number >= 0");
    if (a.samples < 1) throw core::usageError("--samples must be at least 1");
    core::VerifyOptions o;
    o.inputsFile = a.inputs;
    o.samples = a.samples;
    o.seed = a.seed;
    if (!a.inputShape.empty()) o.inputShape = parseInputShape(a.inputShape);
    o.tolerance = a.tolerance;
    o.activations = a.activations;
    core::Verification v = core::verifyFiles(a.original, a.candidate, o);
    if (a.json)
        out << core::verificationJson(v) << "\n";
    else {
        printVerification(v, out);
        out << "(" << figure(v.seconds) << " s)\n";
    }
    return v.preserved ? kOk : kFunctionChanged;
}

}  // namespace cle::cli
