#include "cle/core/pipeline.h"

#include <algorithm>
#include <chrono>
#include <sstream>

#include "cle/core/error.h"
#include "cle/core/exporter.h"
#include "eval/storage.h"
#include "formats/formats.h"
#include "formats/onnx/onnx_file.h"
#include "formats/open_input.h"
#include "graph/topology_detail.h"
#include "hdf5/h5.h"

namespace cle::core {

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

template <typename T, typename Same>
void appendMissing(std::vector<T>& to, const std::vector<T>& from, Same same) {
    for (const auto& x : from)
        if (std::none_of(to.begin(), to.end(), [&](const T& y) { return same(x, y); }))
            to.push_back(x);
}

bool hasLayer(const std::vector<Layer>& layers, const std::string& name) {
    return std::any_of(layers.begin(), layers.end(),
                       [&](const Layer& l) { return l.info.name == name; });
}

// The loaded model the run reads: the one it takes layers from, or the shared one.
const Model& loadedModel(const RunRequest& r) { return r.takeFrom ? *r.takeFrom : *r.model; }

// `layer`'s weight and bias moved out; it keeps its LayerInfo, with no values and no bias.
Layer takeLayer(Layer& layer) {
    Layer taken{layer.info, std::move(layer.weight), std::move(layer.bias)};
    layer.weight = Tensor{};
    layer.bias.reset();
    return taken;
}

// The layers the run changes, folded with the whole plan: the loaded weights as deployment sees
// them. Copied from the shared model (the only copy a run makes), or moved out of the one its
// owner gives up (RunRequest::takeFrom).
Model foldedLayers(const RunRequest& r, const RunPlan& merged) {
    const Model& loaded = loadedModel(r);
    Model folded;
    folded.info = loaded.info;
    for (const auto& name : planLayers(merged)) {
        if (!r.takeFrom) {
            if (const Layer* l = loaded.find(name)) folded.layers.push_back(*l);
        } else if (Layer* l = r.takeFrom->find(name)) {
            folded.layers.push_back(takeLayer(*l));
        }
    }
    copyBatchNormVectors(loaded, merged, folded);
    foldBatchNorms(folded, merged);
    return folded;
}

// Continuing: the previous result replaces the folded loaded layers; a batch norm only this run
// folds into one of them must be folded again on top (they carry the earlier plan's folds).
void startFromPrevious(const RunRequest& r, Model& work) {
    const RunOutcome& previous = *r.previous;
    for (const auto& l : previous.layers)
        if (!work.find(l.info.name)) work.layers.push_back(l);
    applyLayers(work, previous.layers);
    RunPlan refold;
    for (const auto& bn : r.plan.batchNorms) {
        const auto& earlier = previous.plan.batchNorms;
        const bool before = std::any_of(earlier.begin(), earlier.end(),
                                        [&](const BatchNormRef& b) { return b.name == bn.name; });
        if (!before && hasLayer(previous.layers, bn.after)) refold.batchNorms.push_back(bn);
    }
    foldBatchNorms(work, refold);
}

// Continuing: the layers of the working model this run does not equalize (the earlier result's,
// copied in by startFromPrevious), taken out so that they reach the outcome by moving.
std::vector<Layer> takeCarried(Model& work, const RunPlan& plan) {
    const auto needed = planLayers(plan);
    auto carried =
        std::stable_partition(work.layers.begin(), work.layers.end(), [&](const Layer& l) {
            return std::find(needed.begin(), needed.end(), l.info.name) != needed.end();
        });
    std::vector<Layer> out(std::make_move_iterator(carried),
                           std::make_move_iterator(work.layers.end()));
    work.layers.erase(carried, work.layers.end());
    return out;
}

// The outcome's layers: the earlier result's in its order, each this run equalized or carried
// over, then the ones this run adds (what mergeLayers gives, without copying the earlier ones).
std::vector<Layer> continuedLayers(const std::vector<Layer>& earlier, std::vector<Layer> carried,
                                   std::vector<Layer> equalized) {
    std::vector<Layer> out;
    out.reserve(earlier.size() + equalized.size());
    auto take = [&](std::vector<Layer>& from, const std::string& name) {
        auto it = std::find_if(from.begin(), from.end(),
                               [&](const Layer& l) { return l.info.name == name; });
        if (it == from.end()) return false;
        out.push_back(std::move(*it));
        from.erase(it);
        return true;
    };
    for (const auto& l : earlier)
        if (!take(equalized, l.info.name)) take(carried, l.info.name);
    for (auto& l : equalized) out.push_back(std::move(l));
    return out;
}

// The pair states and scales of the history's last sweep, as an event.
SweepEvent sweepEvent(const Summary& s, int sweep, float delta) {
    SweepEvent e;
    e.sweep = sweep;
    e.delta = delta;
    e.threshold = s.threshold;
    e.pairs.reserve(s.pairs.size());
    for (const auto& h : s.pairs) {
        PairSweep p{h.first, h.second, {}, {}, h.scale, h.deadChannels, h.constantInputChannels};
        if (!h.states.empty()) {
            p.outRange = h.states.back().out;
            p.inRange = h.states.back().in;
        }
        e.pairs.push_back(std::move(p));
    }
    e.regions.reserve(s.regions.size());
    for (const auto& h : s.regions) {
        RegionSweep r{h.region, {}, {}, h.scale, h.deadChannels, h.constantInputChannels};
        if (!h.states.empty()) {
            r.outRange = h.states.back().out;
            r.inRange = h.states.back().in;
        }
        e.regions.push_back(std::move(r));
    }
    return e;
}

// The report's absorbed biases: only when absorption was asked for.
const std::vector<AbsorbedBias>* reportedAbsorption(const RunOutcome& outcome) {
    return outcome.absorbAsked ? &outcome.absorbed : nullptr;
}

std::string endingMessage(const Summary& s) {
    std::ostringstream o;
    if (s.cancelled)
        o << "cancelled after " << s.deltas.size() << " sweep" << (s.deltas.size() == 1 ? "" : "s");
    else if (s.converged)
        o << "converged after " << s.sweeps << " sweep" << (s.sweeps == 1 ? "" : "s")
          << " (last delta " << s.lastDelta() << " < threshold " << s.threshold << ")";
    else
        o << "not converged: stopped at the limit of " << s.sweeps << " sweeps (last delta "
          << s.lastDelta() << ", threshold " << s.threshold << ")";
    return o.str();
}

}  // namespace

std::string toString(Stage stage) {
    switch (stage) {
        case Stage::Load:
            return "load";
        case Stage::Plan:
            return "plan";
        case Stage::Fold:
            return "fold";
        case Stage::Equalize:
            return "equalize";
        case Stage::Preview:
            return "preview";
        case Stage::Export:
            return "export";
    }
    return "unknown";
}

std::string toString(Ending ending) {
    switch (ending) {
        case Ending::Converged:
            return "converged";
        case Ending::SweepLimit:
            return "sweep limit";
        case Ending::Cancelled:
            return "cancelled";
        case Ending::Failed:
            return "failed";
    }
    return "unknown";
}

LoadedInput loadInput(const LoadRequest& request, const Feedback& feedback) {
    const auto start = Clock::now();
    feedback.setProgress(Stage::Load, 0);
    h5::Silence quiet;
    const std::string& path = request.path;
    const bool onnx = onnxfmt::isOnnxPath(path);  // read through its own parsed copy
    const auto identity = fileIdentity(path);
    // The input is opened here once; every reader below works on this handle, and no later stage
    // opens it again except the exporter copying it.
    h5::Handle file = onnx ? h5::Handle() : h5::openExisting(path, false);
    std::shared_ptr<Model> model;
    if (onnx) {
        model = std::make_shared<Model>(loadModel(path, request.layout, request.maxBytes));
    } else {
        // model_config is read and parsed here once; listing, topology and graph share it.
        auto config = formats::readKerasConfig(file.get(), path);
        ModelInfo info = formats::inspectOpen(file.get(), path, request.layout, config.get());
        info.identity = identity;
        model = std::make_shared<Model>(
            formats::readModel(file.get(), std::move(info), request.maxBytes, std::move(config)));
    }
    if (fileIdentity(path) != identity)
        throw inputError("'" + path + "' changed while it was being read");
    if (feedback.isCancelled()) throw Error(ErrorKind::Cancelled, "cancelled");
    feedback.setProgress(Stage::Load, 0.9);
    LoadedInput in;
    try {
        const Format format = model->info.format;
        std::optional<keras::Graph> graph;
        if ((format == Format::Keras2 || format == Format::Keras3) && model->config) {
            graph = keras::Graph::fromConfig(*model->config, path);
            in.graph = std::make_shared<const LayerGraph>(keras::layerGraph(model->info, *graph));
            // What checking the network reads besides the layers, while the file is open.
            model->storage = eval::recordStorage(file.get(), *model, *graph);
        }
        in.topology = std::make_shared<const Topology>(
            onnx ? Topology::build(model->info, request.topology)
                 : detail::buildTopology(model->info, file.get(), request.topology,
                                         graph ? &*graph : nullptr));
    } catch (const Error& e) {
        // A usage error (options that do not fit the file) stops the run; an unreadable graph
        // leaves the weights worth inspecting, and planning says why it cannot go on.
        if (e.kind() == ErrorKind::Usage) throw;
        in.topologyError = e.what();
    }
    in.model = std::move(model);
    in.seconds = secondsSince(start);
    feedback.setProgress(Stage::Load, 1);
    return in;
}

RunPlan planRun(const LoadedInput& input, const PairChoice& choice) {
    if (!input.topology) throw inputError(input.topologyError);
    if (choice.suggest)
        return planSuggested(input.model->info, *input.topology, choice.allowRelu6,
                             choice.acceptGuesses);
    RunPlan plan = planPairs(input.model->info, *input.topology, choice.pairs, choice.allowRelu6);
    if (!choice.regions.empty())
        planRegions(input.model->info, *input.topology, choice.regions, choice.allowRelu6, plan);
    return plan;
}

RunOutcome runEqualization(const RunRequest& r, const Feedback& feedback) {
    RunOutcome out;
    out.seconds.load = r.loadSeconds;
    auto start = Clock::now();
    out.plan = r.previous ? mergePlans(r.previous->plan, r.plan) : r.plan;
    const Model& loaded = loadedModel(r);  // only its info and batch-norm vectors after the fold
    out.relu6Costs = relu6Costs(loaded, out.plan);
    feedback.setProgress(Stage::Fold, 0);
    Model work = foldedLayers(r, out.plan);
    out.seconds.fold = secondsSince(start);

    start = Clock::now();
    feedback.setProgress(Stage::Preview, 0);
    out.quantization = quantizationBefore(work, planLayers(out.plan), r.options.threads);
    out.seconds.preview = secondsSince(start);

    start = Clock::now();
    std::vector<Layer> carried;
    if (r.previous) {
        startFromPrevious(r, work);
        carried = takeCarried(work, r.plan);
    }
    out.seconds.fold += secondsSince(start);

    start = Clock::now();
    auto progress = [&](const Progress& p) {
        if (p.sweepDone && p.summary) {
            feedback.sweepDone(sweepEvent(*p.summary, p.sweep, p.delta));
            feedback.setProgress(Stage::Equalize, double(p.sweep) / r.options.maxSweeps);
        } else if (p.sweep == 1 && p.pairIndex == 1 && p.summary) {
            feedback.sweepDone(sweepEvent(*p.summary, 0, 0));  // the state before the first
        }
        return !feedback.isCancelled();
    };
    EqualizeResult result =
        equalize(std::move(work), r.plan.pairs, r.plan.regions, r.options, progress);
    out.seconds.equalize = secondsSince(start);
    out.summary = std::move(result.summary);
    if (out.summary.cancelled)
        out.ending = Ending::Cancelled;
    else
        out.ending = out.summary.converged ? Ending::Converged : Ending::SweepLimit;
    out.message = endingMessage(out.summary);
    if (out.ending == Ending::Cancelled) return out;
    out.absorbAsked = r.absorbBias;
    if (r.absorbBias) out.absorbed = absorbHighBias(loaded, r.plan, out.summary, result.layers);

    start = Clock::now();
    feedback.setProgress(Stage::Preview, 0.5);
    out.layers = r.previous ? continuedLayers(r.previous->layers, std::move(carried),
                                              std::move(result.layers))
                            : std::move(result.layers);
    quantizationAfter(out.quantization, out.layers, r.options.threads);
    out.seconds.preview += secondsSince(start);
    return out;
}

double exportOutcome(const Model& loaded, const RunOutcome& outcome, const ExportRequest& request,
                     const Feedback& feedback) {
    const auto start = Clock::now();
    const ModelInfo& input = loaded.info;
    feedback.setProgress(Stage::Export, 0);
    ExportOptions options;
    options.force = request.force;
    options.cancel = feedback.cancelFlag();
    options.extras = exportExtras(loaded, outcome.plan, outcome.layers);
    options.inputIdentity = input.identity;
    options.reportPath = request.reportPath;
    options.reportText = [&] {  // written with the output, or neither is
        StageTimes seconds = outcome.seconds;
        seconds.exported = secondsSince(start);
        return reportJson(
            input, outcome.summary, seconds.report(),
            {&outcome.plan, &outcome.quantization, &outcome.relu6Costs,
             outcome.verification ? &*outcome.verification : nullptr, reportedAbsorption(outcome)});
    };
    exportWeights(input.path, outcome.layers, request.output, options);
    feedback.setProgress(Stage::Export, 1);
    return secondsSince(start);
}

RunOutcome runPipeline(const PipelineRequest& request, const Feedback& feedback) {
    const LoadedInput input = loadInput(request.load, feedback);
    const auto start = Clock::now();
    RunRequest run;
    if (request.takeWeights)
        run.takeFrom = input.model;
    else
        run.model = input.model;
    run.plan = planRun(input, request.pairs);
    run.options = request.options;
    run.loadSeconds = input.seconds;
    run.absorbBias = request.absorbBias;
    const double planSeconds = secondsSince(start);
    if (request.planned) {
        RunOutcome planned;
        planned.plan = run.plan;
        planned.relu6Costs = relu6Costs(*input.model, run.plan);
        request.planned(input, planned);
    }
    RunOutcome outcome = runEqualization(run, feedback);
    outcome.seconds.plan = planSeconds;
    if (!outcome.completed()) return outcome;
    if (request.beforeExport && !request.beforeExport(outcome)) return outcome;
    outcome.seconds.exported = exportOutcome(*input.model, outcome, request.output, feedback);
    outcome.exported = true;
    return outcome;
}

RunPlan mergePlans(const RunPlan& earlier, const RunPlan& later) {
    RunPlan out = earlier;
    appendMissing(out.pairs, later.pairs, std::equal_to<LayerPair>());
    appendMissing(out.regions, later.regions, [](const Region& a, const Region& b) {
        return a.sources == b.sources && a.sinks == b.sinks;
    });
    appendMissing(out.batchNorms, later.batchNorms,
                  [](const BatchNormRef& a, const BatchNormRef& b) { return a.name == b.name; });
    appendMissing(out.relu6, later.relu6, std::equal_to<std::string>());
    out.relu6Norms.insert(later.relu6Norms.begin(), later.relu6Norms.end());
    out.relu6Max.insert(later.relu6Max.begin(), later.relu6Max.end());
    appendMissing(out.notes, later.notes, std::equal_to<std::string>());
    out.skipped.insert(out.skipped.end(), later.skipped.begin(), later.skipped.end());
    out.guessed = earlier.guessed || later.guessed;
    return out;
}

std::vector<Layer> mergeLayers(std::vector<Layer> base, std::vector<Layer> newer) {
    for (auto& layer : newer) {
        auto it = std::find_if(base.begin(), base.end(),
                               [&](const Layer& b) { return b.info.name == layer.info.name; });
        if (it != base.end())
            *it = std::move(layer);
        else
            base.push_back(std::move(layer));
    }
    return base;
}

std::vector<std::string> pairLayerNames(const std::vector<LayerPair>& pairs) {
    std::vector<std::string> names;
    for (const auto& [a, b] : pairs)
        for (const auto* n : {&a, &b})
            if (std::find(names.begin(), names.end(), *n) == names.end()) names.push_back(*n);
    return names;
}

void appendSweep(Summary& history, const SweepEvent& event) {
    history.threshold = event.threshold;
    if (event.sweep > 0) {
        history.deltas.push_back(event.delta);
        history.sweeps = int(history.deltas.size());
    }
    if (history.pairs.size() < event.pairs.size()) history.pairs.resize(event.pairs.size());
    for (size_t i = 0; i < event.pairs.size(); ++i) {
        auto& h = history.pairs[i];
        const auto& p = event.pairs[i];
        h.first = p.first;
        h.second = p.second;
        h.states.push_back({p.outRange, p.inRange});
        h.scale = p.scale;
        h.deadChannels = p.deadChannels;
        h.constantInputChannels = p.constantInputChannels;
    }
    if (history.regions.size() < event.regions.size()) history.regions.resize(event.regions.size());
    for (size_t i = 0; i < event.regions.size(); ++i) {
        auto& h = history.regions[i];
        const auto& r = event.regions[i];
        h.region = r.region;
        h.states.push_back({r.outRange, r.inRange});
        h.scale = r.scale;
        h.deadChannels = r.deadChannels;
        h.constantInputChannels = r.constantInputChannels;
    }
    recordStateSweep(history, event.sweep);  // thinned as the engine thins its own
}

}  // namespace cle::core
