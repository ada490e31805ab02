#include "commands.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>

#include "cle/core/bias_absorption.h"
#include "cle/core/equalizer.h"
#include "cle/core/error.h"
#include "cle/core/exporter.h"
#include "cle/core/model.h"
#include "cle/core/output_name.h"
#include "cle/core/pipeline.h"
#include "cle/core/quantization.h"
#include "cle/core/report.h"
#include "cle/core/run_plan.h"
#include "cle/core/topology.h"
#include "cle/core/verification.h"
#include "cli.h"
#include "verify_command.h"

namespace cle::cli {

namespace {

std::optional<core::Layout> layoutOption(const std::string& s) {
    if (s.empty()) return std::nullopt;
    return core::parseLayout(s);
}

std::string shapeText(const std::vector<std::int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

std::string number(double v, int precision = 3) {
    if (std::isinf(v)) return "inf";
    std::ostringstream o;
    o << std::setprecision(precision) << v;
    return o.str();
}

double layerImbalance(const core::Layer& l) {
    if (!l.info.supported || l.weight.values.empty()) return std::nan("");
    return core::rangeImbalance(core::channelStats(l.weight, l.info.outAxis()).range());
}

}  // namespace

core::TopologyOptions topologyOptions(const std::vector<std::string>& foldBn,
                                      std::optional<double> bnEpsilon) {
    core::TopologyOptions options;
    options.bnEpsilon = bnEpsilon;
    for (const auto& entry : foldBn) {
        auto eq = entry.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == entry.size())
            throw core::usageError("--fold-bn takes LAYER=BATCHNORM, not '" + entry + "'");
        options.foldBn.emplace_back(entry.substr(0, eq), entry.substr(eq + 1));
    }
    return options;
}

int checkCommand(const InspectArgs& a, std::ostream& out) {
    if (a.inputsFile) {
        out << a.file << ": " << core::readInputsFile(a.file) << " input datasets\n";
        return kOk;
    }
    core::LoadRequest request;
    request.path = a.file;
    request.layout = layoutOption(a.layout);
    request.maxBytes = a.maxMemoryMb << 20;
    core::LoadedInput input = core::loadInput(request, core::Feedback());
    if (input.model->layers.empty())  // what a run and the application refuse
        throw core::inputError("'" + a.file +
                               "' holds no layer with weights (no weight or kernel datasets)");
    std::int64_t weights = 0;
    for (const auto& l : input.model->layers) weights += l.weight.size();
    out << a.file << ": " << input.model->layers.size() << " layers, " << weights
        << " weights; layer graph: "
        << (!input.topology           ? "none (" + input.topologyError + ")"
            : input.topology->known() ? std::string("read")
                                      : std::string("guessed from names and shapes"))
        << "\n";
    return kOk;
}

int inspectCommand(const InspectArgs& a, std::ostream& out) {
    core::Model model = core::loadModel(a.file, layoutOption(a.layout), a.maxMemoryMb << 20);
    if (a.json) {
        nlohmann::json j;
        j["file"] = a.file;
        j["format"] = core::toString(model.info.format);
        j["layout"] = core::toString(model.info.layout);
        j["layers"] = nlohmann::json::array();
        for (const auto& l : model.layers) {
            double imb = layerImbalance(l);
            nlohmann::json e = {{"name", l.info.name},
                                {"kind", l.info.kind},
                                {"layout", core::toString(l.info.layout)},
                                {"shape", l.info.shape},
                                {"bias", l.info.hasBias()},
                                {"dtype", core::toString(l.info.dtype)},
                                {"depthwise", l.info.depthwise},
                                {"supported", l.info.supported},
                                {"imbalance", std::isfinite(imb) ? nlohmann::json(imb) : nullptr}};
            if (!l.info.supported) e["reason"] = l.info.unsupportedReason;
            j["layers"].push_back(e);
        }
        out << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
        return kOk;
    }
    out << "file:   " << a.file << "\n"
        << "format: " << core::toString(model.info.format) << " (layout "
        << core::toString(model.info.layout) << ")\n"
        << "layers: " << model.layers.size() << "\n\n";
    size_t w = 5;
    for (const auto& l : model.layers) w = std::max(w, l.info.name.size());
    out << std::left << std::setw(int(w) + 2) << "name" << std::setw(28) << "kind" << std::setw(8)
        << "layout" << std::setw(20) << "shape" << std::setw(6) << "bias" << std::setw(10)
        << "dtype"
        << "imbalance\n";
    for (const auto& l : model.layers) {
        double imb = layerImbalance(l);
        out << std::left << std::setw(int(w) + 2) << l.info.name << std::setw(28) << l.info.kind
            << std::setw(8) << core::toString(l.info.layout) << std::setw(20)
            << shapeText(l.info.shape) << std::setw(6) << (l.info.hasBias() ? "yes" : "no")
            << std::setw(10) << core::toString(l.info.dtype)
            << (l.info.supported ? number(imb) : "not supported: " + l.info.unsupportedReason)
            << "\n";
    }
    return kOk;
}

namespace {

// One line: the channels of the pair's first layer whose bias grew past the limit.
void printAmplifiedBias(const core::PairHistory& p, std::ostream& out) {
    out << "  WARNING " << p.first << " -> " << p.second << ": bias of " << p.first
        << " amplified more than " << core::kBiasAmplificationLimit << "x in channel";
    const char* sep = p.amplifiedBias.size() == 1 ? " " : "s ";
    for (const auto& a : p.amplifiedBias) {
        out << sep << a.channel << " (x" << number(a.amplification) << ", " << number(a.biasBefore)
            << " -> " << number(a.biasAfter) << ")";
        sep = ", ";
    }
    out << "; its activations dwarf the others under per-tensor INT8\n";
}

void printSummary(const core::Summary& s, std::ostream& out) {
    if (s.converged)
        out << "converged after " << s.sweeps << " sweep" << (s.sweeps == 1 ? "" : "s")
            << " (last delta " << number(s.lastDelta()) << " < threshold " << s.threshold << ")\n";
    else
        out << "NOT converged: stopped at the limit of " << s.sweeps << " sweeps (last delta "
            << number(s.lastDelta()) << ", threshold " << s.threshold << ")\n";
    for (const auto& p : s.pairs) {
        out << "  " << p.first << " -> " << p.second << ": output range imbalance "
            << number(core::rangeImbalance(p.states.front().out)) << " -> "
            << number(core::rangeImbalance(p.states.back().out));
        if (!p.deadChannels.empty())
            out << "; " << p.deadChannels.size() << " dead channel(s) left unscaled";
        if (!p.constantInputChannels.empty())
            out << "; " << p.constantInputChannels.size()
                << " constant input channel(s) left unscaled";
        out << "\n";
        if (!p.amplifiedBias.empty()) printAmplifiedBias(p, out);
    }
    for (const auto& r : s.regions) {
        out << "  region of " << r.region.sources.size() << " source(s) ("
            << r.region.sources.front() << ", ...) and " << r.region.sinks.size() << " sink(s), "
            << r.region.channels << " channels: source range imbalance "
            << number(core::rangeImbalance(r.states.front().out)) << " -> "
            << number(core::rangeImbalance(r.states.back().out));
        if (!r.deadChannels.empty())
            out << "; " << r.deadChannels.size() << " dead channel(s) left unscaled";
        if (!r.constantInputChannels.empty())
            out << "; " << r.constantInputChannels.size()
                << " constant input channel(s) left unscaled";
        out << "\n";
    }
}

}  // namespace

namespace {

std::string percent(double fraction) { return number(100.0 * fraction, 2) + "%"; }

void printPlan(const core::RunPlan& plan, const std::vector<core::Relu6Cost>& costs,
               std::ostream& out) {
    for (const auto& bn : plan.batchNorms)
        out << "folded batch norm " << bn.name << " into " << bn.after << " (epsilon " << bn.epsilon
            << (plan.guessed ? ", no layer graph to confirm where it sits" : "") << ")\n";
    for (const auto& c : costs) {
        out << "ReLU6 " << c.layer << " becomes ReLU in the exported model_config";
        if (c.known())
            out << ": inputs above " << number(c.level) << " (from batch norm " << c.batchNorm
                << "): mean " << percent(c.mean) << ", worst " << percent(c.worst) << " (channel "
                << c.worstChannel << ")";
        else
            out << " (no batch norm before it to estimate how often it clipped)";
        out << "\n";
    }
    for (const auto& s : plan.skipped)
        out << "skipped " << s.layers.front() << " -> " << s.layers.back() << ": " << s.reason
            << "\n";
    for (const auto& n : plan.notes) out << "note: " << n << "\n";
}

// One line, printed even with --quiet: what the output changes besides the equalized weights.
void printChanges(const core::RunPlan& plan, const std::vector<core::Relu6Cost>& costs,
                  std::ostream& out) {
    std::vector<std::string> parts;
    auto count = [](size_t n, const char* one, const char* many) {
        return std::to_string(n) + " " + (n == 1 ? one : many);
    };
    if (!plan.batchNorms.empty())
        parts.push_back(count(plan.batchNorms.size(), "batch norm", "batch norms") +
                        " folded into their layers (now identities)");
    if (!costs.empty()) {
        std::string relu = count(costs.size(), "ReLU6", "ReLU6") + " relaxed to ReLU";
        const core::Relu6Cost* worst = nullptr;
        for (const auto& c : costs)
            if (c.known() && (!worst || c.worst > worst->worst)) worst = &c;
        if (worst)
            relu += " (worst: " + percent(worst->worst) + " of inputs above " +
                    number(worst->level) + " at " + worst->layer + ")";
        parts.push_back(relu);
    }
    if (!plan.skipped.empty())
        parts.push_back(count(plan.skipped.size(), "pair", "pairs") + " skipped");
    if (parts.empty()) {
        out << "besides the equalized weights: nothing changed\n";
        return;
    }
    out << "besides the equalized weights:";
    for (size_t i = 0; i < parts.size(); ++i) out << (i ? ", " : " ") << parts[i];
    out << "\n";
}

void printQuantization(const core::QuantizationReport& q, std::ostream& out) {
    auto line = [&](const char* what, const core::SqnrStats& b, const core::SqnrStats& a) {
        out << "  " << what << " median " << number(b.median) << " -> " << number(a.median)
            << ", worst " << number(b.worst) << " -> " << number(a.worst) << ", weighted mean "
            << number(b.weightedMean) << " -> " << number(a.weightedMean) << "\n";
    };
    if (!q.collapsedLayers.empty()) {
        out << "WARNING: equalization collapsed " << q.collapsedLayers.size() << " layer"
            << (q.collapsedLayers.size() == 1 ? "" : "s") << " under INT8:";
        const char* sep = " ";
        for (const auto& l : q.layers) {
            if (!l.collapsedByEqualization()) continue;
            out << sep << l.name << " (" << number(100 * l.zeroFractionAfter, 2)
                << "% of weights round to zero, " << l.zeroedChannelsAfter << " channel"
                << (l.zeroedChannelsAfter == 1 ? "" : "s") << " all zero)";
            sep = ", ";
        }
        out << "; they count as 0 dB in the per-tensor figures below\n";
    }
    out << "INT8 weight SQNR (dB), before -> after equalization:\n";
    line("per tensor: ", q.perTensorBefore, q.perTensorAfter);
    line("per channel:", q.perChannelBefore, q.perChannelAfter);
}

void printAbsorbed(const std::vector<core::AbsorbedBias>& absorbed, std::ostream& out) {
    if (absorbed.empty())
        out << "high-bias absorption: no pair has a batch norm and a ReLU after its first layer\n";
    for (const auto& r : absorbed) {
        out << "high-bias absorption " << r.first << " -> " << r.second << ": ";
        if (!r.skipped.empty())
            out << "skipped, " << r.skipped << "\n";
        else
            out << r.channels << " of " << r.absorbed.size() << " channels, largest "
                << number(r.largest) << "\n";
    }
}

core::PairChoice pairChoice(const EqualizeArgs& a) {
    core::PairChoice choice;
    choice.suggest = a.autoPairs;
    choice.acceptGuesses = a.acceptGuesses;
    choice.allowRelu6 = a.allowRelu6;
    if (!a.autoPairs) {
        auto groups =
            a.pairs.empty() ? core::readGroupsFile(a.pairsFile) : core::parseGroups(a.pairs);
        choice.pairs = core::expandGroups(groups);
        if (!a.pairsFile.empty()) choice.regions = core::readRegionsFile(a.pairsFile);
    }
    return choice;
}

// How the run ended and what it produced: the one presentation of an outcome on the terminal.
void printOutcome(const core::RunOutcome& o, const EqualizeArgs& a, std::ostream& out) {
    printSummary(o.summary, out);
    printChanges(o.plan, o.relu6Costs, out);
    if (o.absorbAsked) printAbsorbed(o.absorbed, out);
    printQuantization(o.quantization, out);
    if (o.verification) {
        printVerification(*o.verification, out);
        printStorageNote(o.layers, out);
    }
    const core::Timings t = o.seconds.report();
    out << "wrote " << a.output << (a.report.empty() ? "" : " and " + a.report) << " (load "
        << number(t.load) << " s, equalize " << number(t.equalize) << " s, save " << number(t.save)
        << " s, quantization preview " << number(t.quantization) << " s)\n";
}

}  // namespace

int equalizeCommand(const EqualizeArgs& a, std::ostream& out, std::ostream& err,
                    const std::atomic<bool>* cancel) {
    if (!(static_cast<float>(a.threshold) > 0) || !std::isfinite(a.threshold))
        throw core::usageError("--threshold must be a positive number, not " + number(a.threshold));
    if (a.maxSweeps < 1) throw core::usageError("--max-sweeps must be at least 1");
    if (!a.autoPairs) {  // a malformed pair list is a usage error before any file is read
        if (a.pairs.empty())
            core::readGroupsFile(a.pairsFile);
        else
            core::expandGroups(core::parseGroups(a.pairs));
    }
    core::checkOutputSuffix(a.input, a.output);
    core::checkOutputPath(a.input, a.output, a.force);
    if (!a.report.empty()) {
        core::checkOutputPath(a.input, a.report, a.force);
        if (std::filesystem::weakly_canonical(a.report) ==
            std::filesystem::weakly_canonical(a.output))
            throw core::usageError("--report and -o name the same file '" + a.output + "'");
    }

    core::PipelineRequest request;
    request.load = {a.input, layoutOption(a.layout), a.maxMemoryMb << 20,
                    topologyOptions(a.foldBn, a.bnEpsilon)};
    request.pairs = pairChoice(a);
    request.options = {a.threshold, a.maxSweeps};
    request.absorbBias = a.absorbBias;
    request.output = {a.output, a.report, a.force};
    // Without --verify nothing reads the loaded weights after planning: the run takes the planned
    // layers out of the loaded model instead of copying them. The check builds its networks from
    // the loaded model (the original, and the relaxed original when ReLU6 is relaxed).
    request.takeWeights = !a.verify;
    std::optional<ResultCheck> check;
    request.planned = [&](const core::LoadedInput& input, const core::RunOutcome& planned) {
        if (a.verify) check.emplace(a, input.model);
        if (!a.quiet) printPlan(planned.plan, planned.relu6Costs, err);
    };
    request.beforeExport = [&](core::RunOutcome& o) {
        if (check) o.verification = check->run(o.plan, o.layers, cancel);
        return !o.verification || o.verification->preserved;
    };
    core::Feedback feedback(cancel);
    feedback.onSweep = [&](const core::SweepEvent& e) {
        // Every sweep of a short run, then every tenth: a long run stays readable.
        if (e.sweep > 0 && !a.quiet && (e.sweep <= 10 || e.sweep % 10 == 0))
            err << "sweep " << e.sweep << ": delta " << number(e.delta, 6) << " (threshold "
                << a.threshold << ")\n";
    };
    const core::RunOutcome outcome = core::runPipeline(request, feedback);
    if (outcome.ending == core::Ending::Cancelled)
        throw core::Error(core::ErrorKind::Cancelled, "cancelled");
    if (!outcome.exported) {  // the network check refused the result
        if (outcome.absorbAsked) printAbsorbed(outcome.absorbed, out);  // often the cause
        printVerification(*outcome.verification, out);
        printStorageNote(outcome.layers, out);
        out << "nothing written: the equalized network does not compute the original's "
               "function\n";
        return kFunctionChanged;
    }
    printOutcome(outcome, a, out);
    return outcome.ending == core::Ending::Converged ? kOk : kNotConverged;
}

}  // namespace cle::cli
