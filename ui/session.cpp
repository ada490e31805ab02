#include "ui/session.h"

#include <QFileInfo>

#include "cle/core/exporter.h"

namespace cle::ui {

namespace {

const std::vector<core::Layer> kNoLayers;
const std::map<std::string, double> kNoImbalance;
const std::vector<core::Relu6Cost> kNoCosts;

}  // namespace

Session::Session(QObject* parent)
    : QObject(parent),
      loadTask_(this, [this](LoadTask::Outcome out) { onLoadDone(std::move(out)); }),
      exportTask_(this, [this](const ExportTask::Outcome& out) { onExportDone(out); }) {
    connect(&job_, &EqualizeJob::progressed, this, &Session::onRunProgress);
    connect(&job_, &EqualizeJob::finished, this, &Session::onRunDone);
}

Session::~Session() {
    job_.cancel();
    loadFeedback_->cancel();
    exportFeedback_->cancel();
    waitForIdle();
}

void Session::stopForClose() {
    job_.cancel();
    loadFeedback_->cancel();
    waitForIdle();
}

void Session::waitForIdle() {
    loadTask_.wait();
    job_.wait();
    exportTask_.wait();
}

const core::Summary* Session::summary() const {
    if (live_) return &*live_;
    return result_ ? &result_->outcome.summary : nullptr;
}

const std::vector<core::Layer>& Session::resultLayers() const {
    return hasResult() ? result_->outcome.layers : kNoLayers;
}

const std::map<std::string, double>& Session::equalizedImbalance() const {
    return hasResult() ? result_->equalizedImbalance : kNoImbalance;
}

const core::RunPlan& Session::plan() const {
    return live_ || !result_ ? livePlan_ : result_->outcome.plan;
}

const std::vector<core::Relu6Cost>& Session::relu6Costs() const {
    return hasResult() ? result_->outcome.relu6Costs : kNoCosts;
}

const std::vector<core::AbsorbedBias>& Session::absorbed() const {
    static const std::vector<core::AbsorbedBias> none;
    return hasResult() ? result_->outcome.absorbed : none;
}

void Session::clearResult() {
    live_.reset();
    livePlan_ = {};
    result_.reset();
}

bool Session::open(const QString& path) {
    if (isBusy()) return false;
    pendingPath_ = path;
    emit loadStarted(path);
    emit busyChanged(true);
    loadFeedback_ = std::make_shared<core::Feedback>();  // each load its own
    loadTask_.start(tr("load %1").arg(path), [path, feedback = loadFeedback_] {
        return loadModelWithStats(path, feedback.get());
    });
    return true;
}

void Session::onLoadDone(LoadTask::Outcome out) {
    emit busyChanged(isBusy());
    if (!out.value || !*out.value) {
        emit loadFailed(out.value ? tr("Could not load %1.").arg(pendingPath_) : out.error);
        return;
    }
    model_ = std::move(*out.value);
    pairs_.setModel(model_);
    clearResult();
    emit modelLoaded();
    emit resultChanged();
}

QString Session::startRun(const std::vector<core::LayerPair>& pairs,
                          const core::EqualizeOptions& options, bool allowRelu6,
                          bool continueFromResult, const std::vector<core::RegionNames>& regions,
                          bool absorbBias) {
    if (!model_) return tr("Open a model first.");
    if (isBusy()) return tr("Wait for the current operation to finish.");
    if (pairs.empty() && regions.empty()) return tr("Add at least one pair of layers to equalize.");
    if (!model_->topology)
        return tr("The pairs cannot be checked against the network: %1").arg(model_->topologyError);
    core::RunRequest request;
    const QString refused = runCatching(tr("check the pairs"), [&] {
        request.plan = core::planPairs(model_->model.info, *model_->topology, pairs, allowRelu6);
        core::planRegions(model_->model.info, *model_->topology, regions, allowRelu6, request.plan);
    });
    if (!refused.isEmpty()) return refused;
    if (continueFromResult && hasResult())
        request.previous = std::shared_ptr<const core::RunOutcome>(result_, &result_->outcome);
    livePlan_ =
        request.previous ? core::mergePlans(request.previous->plan, request.plan) : request.plan;
    // Shares the loaded model with the worker (read-only), keeping the whole LoadedModel alive:
    // the run copies only the layers it changes.
    request.model = std::shared_ptr<const core::Model>(model_, &model_->model);
    request.options = options;
    request.absorbBias = absorbBias;
    request.loadSeconds = model_->seconds;
    live_.emplace();
    live_->threshold = options.threshold;
    job_.start(std::move(request));
    emit resultChanged();
    emit runStarted();
    emit busyChanged(true);
    return {};
}

void Session::cancelRun() { job_.cancel(); }

void Session::onRunProgress(const std::vector<core::SweepEvent>& events) {
    if (!live_ || events.empty()) return;
    for (const auto& e : events) core::appendSweep(*live_, e);
    emit runProgressed(events.back().sweep, events.back().delta);
}

void Session::onRunDone() {
    result_ = job_.takeRecord();
    const core::Ending ending = result_ ? result_->outcome.ending : core::Ending::Failed;
    // A cancelled or failed run leaves the loaded model as it was and offers no result; its
    // history stays visible (a failed run's as far as it arrived).
    if (ending != core::Ending::Failed) live_.reset();
    emit busyChanged(isBusy());
    if (ending == core::Ending::Converged || ending == core::Ending::SweepLimit)
        emit runFinished();
    else if (ending == core::Ending::Cancelled)
        emit runCancelled();
    else
        emit runFailed(result_ ? QString::fromStdString(result_->outcome.message) : QString());
    emit resultChanged();
}

void Session::reset() {
    if (isRunning()) return;
    clearResult();
    emit resultChanged();
}

QString Session::startExport(const QString& weightsPath, const QString& reportPath, bool force) {
    if (!model_ || !hasResult()) return tr("Run an equalization first.");
    if (isBusy()) return tr("Wait for the current operation to finish.");
    const QString refused = runCatching(tr("export"), [&] {
        core::checkOutputPath(model_->path.toStdString(), weightsPath.toStdString(), force);
    });
    if (!refused.isEmpty()) return refused;
    exportPath_ = weightsPath;
    emit busyChanged(true);
    // The worker shares the loaded model and the result; nothing is copied.
    auto model = model_;
    auto result = result_;
    auto feedback = exportFeedback_;
    const core::ExportRequest request{weightsPath.toStdString(), reportPath.toStdString(), force};
    exportTask_.start(tr("export"), [model, result, feedback, request] {
        core::exportOutcome(model->model, result->outcome, request, *feedback);
    });
    return {};
}

void Session::onExportDone(const ExportTask::Outcome& out) {
    emit busyChanged(isBusy());
    if (out.value)
        emit exportFinished(exportPath_);
    else
        emit exportFailed(out.error);
}

}  // namespace cle::ui
