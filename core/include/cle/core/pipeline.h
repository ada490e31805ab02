#pragma once
// One run, the same for `cle equalize` and the desktop application: load -> plan -> fold ->
// equalize -> preview -> export. Each stage is a function of its own (the application calls
// them as the user acts: load on Open, the run on Run, export on Export); runPipeline chains
// them for the command line. Every stage takes the one Feedback (progress, sweeps, cancel) and
// is timed in the outcome. See docs/ARCHITECTURE.md.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cle/core/bias_absorption.h"
#include "cle/core/equalizer.h"
#include "cle/core/feedback.h"
#include "cle/core/layer_graph.h"
#include "cle/core/model.h"
#include "cle/core/quantization.h"
#include "cle/core/report.h"
#include "cle/core/run_plan.h"
#include "cle/core/topology.h"
#include "cle/core/verification.h"

namespace cle::core {

/// What to open.
struct LoadRequest {
    std::string path;
    std::optional<Layout> layout;  ///< overrides the detected layout
    std::int64_t maxBytes = 0;     ///< memory limit for the weights (0: what is available)
    TopologyOptions topology;      ///< batch norms of files without a layer graph
};

/// A loaded input: what every later stage needs, so that none reads the input file again except
/// the exporter copying it. The stages share the model read-only (RunRequest::model); its owner
/// may still take it (the application keeps it in its own document).
struct LoadedInput {
    std::shared_ptr<Model> model;
    /// The layer graph (or the guessed one); null when it cannot be read, with the reason.
    std::shared_ptr<const Topology> topology;
    std::string topologyError;
    /// The layer graph of a Keras file's model_config, built from the same parse as the
    /// topology; null without one or when it cannot be read (topologyError says why).
    std::shared_ptr<const LayerGraph> graph;
    double seconds = 0;  ///< wall time of the load
};

/// Which pairs a run equalizes: the user's, or the topology's suggestions.
struct PairChoice {
    std::vector<LayerPair> pairs;  ///< ignored when `suggest`
    bool suggest = false;
    bool acceptGuesses = false;  ///< suggestions guessed without a layer graph are accepted
    bool allowRelu6 = false;
    std::vector<RegionNames> regions;  ///< regions named by the user; ignored when `suggest`
};

/// How a run ended, in the manner of Ceres' Summary::termination_type.
enum class Ending { Converged, SweepLimit, Cancelled, Failed };
std::string toString(Ending ending);

/// Wall time of each stage, in seconds.
struct StageTimes {
    double load = 0, plan = 0, fold = 0, equalize = 0, preview = 0, exported = 0;
    /// The report's figures: load includes planning and folding, quantization is the preview.
    Timings report() const { return {load + plan + fold, equalize, exported, preview}; }
};

struct RunOutcome;

/// The equalize stage's input.
struct RunRequest {
    std::shared_ptr<const Model> model;  ///< the loaded weights: read, never changed
    RunPlan plan;                        ///< what this run equalizes
    EqualizeOptions options;
    /// When continuing: the earlier outcome this run starts from (its plan and changed layers).
    std::shared_ptr<const RunOutcome> previous;
    double loadSeconds = 0;   ///< the load stage's time, carried into the outcome
    bool absorbBias = false;  ///< high-bias absorption after equalizing (absorbHighBias)
    /// Instead of `model` (which is then ignored): a loaded model whose owner needs none of its
    /// original weights after the run (the command line). The fold stage moves the weights and
    /// biases of the layers the plan names out of it instead of copying them, so the run holds
    /// the weights once, not twice; those layers are left with their LayerInfo and empty
    /// tensors. What the later stages and the export read of it stays: its info, batch-norm
    /// vectors and model_config. The outcome is the same as with `model`.
    std::shared_ptr<Model> takeFrom;
};

/// Everything a run produced, as one value (shared read-only once complete).
struct RunOutcome {
    Ending ending = Ending::Failed;
    std::string message;  ///< one sentence on how the run ended
    RunPlan plan;         ///< merged with the previous run's: what the export needs
    Summary summary;
    /// Every layer changed since the loaded weights (folded and equalized).
    std::vector<Layer> layers;
    QuantizationReport quantization;           ///< "before" is the loaded weights, folded
    std::vector<Relu6Cost> relu6Costs;         ///< one per ReLU6 the plan relaxes
    std::vector<AbsorbedBias> absorbed;        ///< with RunRequest::absorbBias: what moved
    bool absorbAsked = false;                  ///< RunRequest::absorbBias was set
    std::optional<Verification> verification;  ///< the network-level check, when one ran
    StageTimes seconds;
    bool exported = false;  ///< the export stage wrote the output

    /// Converged or stopped at the sweep limit: a result that can be exported.
    bool completed() const { return ending == Ending::Converged || ending == Ending::SweepLimit; }
};

/// Load stage: the weights, the layer graph. Throws Error naming the file.
LoadedInput loadInput(const LoadRequest& request, const Feedback& feedback);

/// Plan stage: the pairs checked against the graph (planPairs) or suggested (planSuggested).
RunPlan planRun(const LoadedInput& input, const PairChoice& choice);

/// Fold, equalize and preview stages on copies of the layers the plan names (the loaded model is
/// shared, never copied whole), or on those layers taken out of RunRequest::takeFrom. Emits a
/// SweepEvent through `feedback` before the first sweep and after each one. A cancelled run ends
/// Cancelled with its partial history and no layers. Throws Error for a plan the engine refuses.
RunOutcome runEqualization(const RunRequest& request, const Feedback& feedback);

/// What the export stage writes.
struct ExportRequest {
    std::string output;
    std::string reportPath;  ///< "" for no report
    bool force = false;
};

/// Export stage: the outcome's layers and the plan's extras in a copy of the input, with the
/// report (whose timings include this export). Returns the export's seconds. Throws Error on
/// failure or cancel (nothing is left behind). The outcome is only read: it can be shared.
double exportOutcome(const Model& loaded, const RunOutcome& outcome, const ExportRequest& request,
                     const Feedback& feedback);

/// The whole run for the command line.
struct PipelineRequest {
    LoadRequest load;
    PairChoice pairs;
    EqualizeOptions options;
    bool absorbBias = false;
    ExportRequest output;
    /// The run takes the planned layers' weights out of the loaded model (RunRequest::takeFrom)
    /// instead of copying them: for a caller that keeps nothing of the loaded model beyond
    /// `planned` (which still sees it whole). The outcome and the exported file are the same.
    bool takeWeights = false;
    /// Called once the plan is known, before folding (the loaded, unfolded model).
    std::function<void(const LoadedInput&, const RunOutcome&)> planned;
    /// Called after the preview, before writing: returns false to write nothing.
    std::function<bool(RunOutcome&)> beforeExport;
};

/// load -> plan -> fold -> equalize -> preview -> export. A cancelled run returns before the
/// export; errors are thrown as each stage throws them.
RunOutcome runPipeline(const PipelineRequest& request, const Feedback& feedback);

/// `earlier` followed by what `later` adds (pairs, regions, batch norms, ReLU6 layers, skipped
/// pairs).
RunPlan mergePlans(const RunPlan& earlier, const RunPlan& later);
/// `base` with every layer of `newer` replacing (or joining) the one of the same name.
std::vector<Layer> mergeLayers(std::vector<Layer> base, std::vector<Layer> newer);
/// The layer names of `pairs`, each once, in order of appearance.
std::vector<std::string> pairLayerNames(const std::vector<LayerPair>& pairs);

/// Appends a sweep event to a history (what a front end keeps of a run under way).
void appendSweep(Summary& history, const SweepEvent& event);

}  // namespace cle::core
