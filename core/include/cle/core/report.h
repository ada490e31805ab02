#pragma once
// The JSON run report shared by `cle equalize --report` and the desktop application's export.
#include <string>
#include <vector>

#include "cle/core/bias_absorption.h"
#include "cle/core/equalizer.h"
#include "cle/core/quantization.h"
#include "cle/core/run_plan.h"
#include "cle/core/text_file.h"
#include "cle/core/verification.h"
#include "cle/core/weight_file.h"

namespace cle::core {

struct Timings {
    double load = 0;  ///< seconds
    double equalize = 0;
    double save = 0;
    double quantization = 0;  ///< the quantization preview, before and after
};

/// Optional parts of the report: what the run plan did (batch norms folded, ReLU6 relaxed, pairs
/// skipped) and the quantization preview.
struct ReportExtras {
    const RunPlan* plan = nullptr;
    const QuantizationReport* quantization = nullptr;
    const std::vector<Relu6Cost>* relu6Costs = nullptr;
    const Verification* verification = nullptr;  ///< the network-level check (`verification`)
    const std::vector<AbsorbedBias>* absorbedBias = nullptr;  ///< `absorbed_bias`, --absorb-bias
};

/// The report as JSON text (format, pairs, threshold, sweeps, converged, deltas, dead_channels,
/// scales, ranges, seconds, ...).
std::string reportJson(const ModelInfo& model, const Summary& summary, const Timings& timings,
                       const ReportExtras& extras = {});
/// Writes reportJson() to `path` atomically. Throws Error naming the path on failure.
void writeReport(const std::string& path, const ModelInfo& model, const Summary& summary,
                 const Timings& timings, const ReportExtras& extras = {});

}  // namespace cle::core
