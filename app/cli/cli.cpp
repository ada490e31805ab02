#include "cli.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <new>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>

#include "cle/core/error.h"
#include "commands.h"
#include "fault_handler.h"
#include "verify_command.h"

namespace cle::cli {

namespace {

// --fold-bn and --bn-epsilon, for files without a layer graph.
void addBatchNormOptions(CLI::App* cmd, std::vector<std::string>& foldBn,
                         std::optional<double>& epsilon) {
    cmd->add_option("--fold-bn", foldBn,
                    "LAYER=BN: batch norm BN follows LAYER and is folded into it (repeatable; "
                    "files without a layer graph)")
        ->allow_extra_args(false);
    cmd->add_option_function<double>(
        "--bn-epsilon", [&epsilon](const double& v) { epsilon = v; },
        "Epsilon of the batch norms of a file without a layer graph (default: PyTorch 1e-5, "
        "Keras 1e-3)");
}

// --layout and --max-memory of the commands that read one weight file.
void addReadOptions(CLI::App* cmd, InspectArgs& a) {
    cmd->add_option("--layout", a.layout, "Weight layout: torch or keras (default: detected)")
        ->check(CLI::IsMember({"torch", "keras"}));
    cmd->add_option("--max-memory", a.maxMemoryMb,
                    "Refuse files whose weights need more MB (default: memory available)")
        ->check(CLI::Range(std::int64_t(1), std::int64_t(1) << 40));
}

}  // namespace

int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
        const std::atomic<bool>* cancel) {
    CLI::App app{
        "cle: cross-layer equalization of neural-network weights in HDF5 files and ONNX models",
        "cle"};
    app.set_version_flag("--version", std::string("cle ") + CLE_VERSION);
    app.require_subcommand(1);

    InspectArgs ia;
    auto* inspect = app.add_subcommand("inspect", "List the layers of a weight file");
    inspect->add_option("FILE", ia.file, "HDF5 weight file")->required();
    inspect->add_flag("--json", ia.json, "Print JSON instead of a table");
    addReadOptions(inspect, ia);

    InspectArgs ca;
    auto* check = app.add_subcommand(
        "check",
        "Read a weight file as a run does (weights, batch norms, layer graph); exit 0 if "
        "it loads");
    check->add_option("FILE", ca.file, "Weight file")->required();
    check->add_flag("--inputs", ca.inputsFile,
                    "FILE holds a network's inputs (as for --inputs): read every dataset at its "
                    "root");
    addReadOptions(check, ca);

    EqualizeArgs ea;
    auto* eq = app.add_subcommand("equalize", "Equalize layer pairs and write the result");
    eq->add_option("IN", ea.input, "HDF5 weight file to read (never modified)")->required();
    eq->add_option("-o,--output", ea.output, "File to write")->required();
    auto* pairs = eq->add_option("--pairs", ea.pairs, "Layer groups, e.g. \"a,b,c;d,e\"");
    auto* pairsFile = eq->add_option(
        "--pairs-file", ea.pairsFile,
        "JSON file {\"groups\": [[\"a\",\"b\",\"c\"], ...], \"regions\": [{\"sources\": [...], "
        "\"sinks\": [...]}]}");
    pairs->excludes(pairsFile);
    eq->add_option("--threshold", ea.threshold, "Convergence threshold (default 1e-4)");
    eq->add_option("--max-sweeps", ea.maxSweeps, "Stop after this many sweeps (default 1000)");
    eq->add_option("--layout", ea.layout, "Weight layout: torch or keras (default: detected)")
        ->check(CLI::IsMember({"torch", "keras"}));
    eq->add_option("--report", ea.report, "Write a JSON report of the run");
    eq->add_flag("-q,--quiet", ea.quiet, "No progress on stderr");
    eq->add_flag("-f,--force", ea.force, "Overwrite an existing output file");
    auto* autoFlag =
        eq->add_flag("--auto", ea.autoPairs, "Equalize the pairs suggested from the layer graph");
    autoFlag->excludes(pairs)->excludes(pairsFile);
    eq->add_flag("--accept-guesses", ea.acceptGuesses,
                 "With --auto on a file without a layer graph: accept pairs guessed from names");
    eq->add_flag("--allow-relu6", ea.allowRelu6,
                 "Pair across ReLU6; the exported Keras config turns those into ReLU");
    addBatchNormOptions(eq, ea.foldBn, ea.bnEpsilon);
    eq->add_flag("--absorb-bias", ea.absorbBias,
                 "After equalizing, move max(0, beta - 3|gamma|) of each channel's bias past a "
                 "batch norm + ReLU into the next layer's bias (DFQ 4.2). Exact only where the "
                 "pre-activation stays above that amount and the next layer pads no zeros at the "
                 "borders");
    eq->add_option("--max-memory", ea.maxMemoryMb,
                   "Refuse files whose weights need more MB (default: memory available)")
        ->check(CLI::Range(std::int64_t(1), std::int64_t(1) << 40));
    addVerifyOptions(eq, ea);

    PairsArgs pa;
    auto* pairsCmd = app.add_subcommand("pairs", "Suggest layer pairs from the layer graph");
    pairsCmd->add_option("FILE", pa.file, "HDF5 weight file")->required();
    pairsCmd->add_flag("--json", pa.json, "Print JSON (readable by --pairs-file)");
    pairsCmd->add_flag("--allow-relu6", pa.allowRelu6, "Also suggest pairs across ReLU6");
    pairsCmd->add_option("--layout", pa.layout, "Weight layout: torch or keras (default: detected)")
        ->check(CLI::IsMember({"torch", "keras"}));
    addBatchNormOptions(pairsCmd, pa.foldBn, pa.bnEpsilon);

    VerifyArgs va;
    auto* verify = addVerifyCommand(app, va);

    std::vector<std::string> reversed(args.rbegin(), args.rend());
    try {
        app.parse(reversed);
        if (eq->parsed() && ea.pairs.empty() && ea.pairsFile.empty() && !ea.autoPairs)
            throw CLI::ValidationError("--pairs, --pairs-file or --auto is required");
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) {  // --help, --version
            app.exit(e, out, err);
            return kOk;
        }
        err << "cle: " << e.what() << "\n";
        err << "Run 'cle --help' for usage.\n";
        return kUsageError;
    }

    // The files the command reads, for messages that quote them: 'a' or 'b'.
    auto fileOf = [&] {
        std::vector<std::string> files;
        if (verify->parsed())
            files = {va.original, va.candidate, va.inputs};
        else if (eq->parsed())
            files = {ea.input, ea.verifyInputs};
        else
            files = {check->parsed() ? ca.file : inspect->parsed() ? ia.file : pa.file};
        std::string text;
        for (size_t i = 0; i < files.size(); ++i) {
            if (files[i].empty() ||
                std::find(files.begin(), files.begin() + i, files[i]) != files.begin() + i)
                continue;
            text += (text.empty() ? "" : "' or '") + files[i];
        }
        return text;
    };
    noteInputFile(fileOf());
    try {
        if (inspect->parsed()) return inspectCommand(ia, out);
        if (check->parsed()) return checkCommand(ca, out);
        if (pairsCmd->parsed()) return pairsCommand(pa, out);
        if (verify->parsed()) return verifyCommand(va, out);
        return equalizeCommand(ea, out, err, cancel);
    } catch (const core::Error& e) {
        err << "cle: " << e.what() << "\n";
        switch (e.kind()) {
            case core::ErrorKind::Usage:
                return kUsageError;
            case core::ErrorKind::Cancelled:
                return kCancelled;
            default:
                return kInputError;
        }
    } catch (const nlohmann::json::exception&) {
        // A model_config with values of unexpected types: name the file, not the library.
        err << "cle: cannot read the model_config of '" << fileOf() << "': a value in it has an "
            << "unexpected type\n";
        return kInputError;
    } catch (const std::bad_alloc&) {
        err << "cle: not enough memory for '" << fileOf() << "'\n";
        return kInputError;
    } catch (const std::exception& e) {
        err << "cle: " << e.what() << "\n";
        return kInputError;
    }
}

}  // namespace cle::cli
