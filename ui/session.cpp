#include "ui/session.h"

#include <chrono>
#include <exception>

#include <QFileInfo>
#include <QtConcurrent/QtConcurrentRun>

#include "cle/core/error.h"
#include "cle/core/exporter.h"
#include "cle/core/report.h"
#include "ui/run_pipeline.h"

namespace cle::ui {

namespace {

QString describe(const std::exception& e) { return QString::fromStdString(e.what()); }

}  // namespace

Session::Session(QObject* parent) : QObject(parent)
{
    connect(&loadWatcher_, &QFutureWatcher<LoadOutcome>::finished, this, &Session::onLoadDone);
    connect(&job_, &EqualizeJob::progressed, this, &Session::onRunProgress);
    connect(&job_, &EqualizeJob::finished, this, &Session::onRunDone);
    connect(&exportWatcher_, &QFutureWatcher<ExportOutcome>::finished, this,
            &Session::onExportDone);
}

Session::~Session()
{
    job_.cancel();
    exportCancel_->store(true);
    waitForIdle();
}

void Session::waitForIdle()
{
    // A watcher that never got a future would wait forever on its empty one.
    if (loadWatcher_.isRunning()) loadWatcher_.waitForFinished();
    job_.wait();
    if (exportWatcher_.isRunning()) exportWatcher_.waitForFinished();
}

bool Session::open(const QString& path)
{
    if (isBusy()) return false;
    pendingPath_ = path;
    emit loadStarted(path);
    emit busyChanged(true);
    loadWatcher_.setFuture(QtConcurrent::run([path]() -> LoadOutcome {
        LoadOutcome out;
        try {
            out.model = loadModelWithStats(path);
        } catch (const std::bad_alloc&) {
            out.error = tr("Not enough memory to load %1.").arg(path);
        } catch (const std::exception& e) {
            out.error = describe(e);
        } catch (...) {
            out.error = tr("Could not load %1: unknown error.").arg(path);
        }
        if (!out.model && out.error.isEmpty()) out.error = tr("Could not load %1.").arg(path);
        return out;
    }));
    return true;
}

void Session::onLoadDone()
{
    LoadOutcome out = loadWatcher_.future().takeResult();
    emit busyChanged(isBusy());
    if (!out.model) {
        emit loadFailed(out.error);
        return;
    }
    model_ = std::move(out.model);
    summary_.reset();
    resultLayers_.clear();
    imbalance_.clear();
    plan_ = resultPlan_ = {};
    quantization_ = {};
    relu6Costs_.clear();
    emit modelLoaded();
    emit resultChanged();
}

QString Session::startRun(const std::vector<core::LayerPair>& pairs,
                          const core::EqualizeOptions& options, bool allowRelu6,
                          bool continueFromResult,
                          const std::vector<core::RegionNames>& regions, bool absorbBias)
{
    if (!model_) return tr("Open a model first.");
    if (isBusy()) return tr("Wait for the current operation to finish.");
    if (pairs.empty() && regions.empty())
        return tr("Add at least one pair of layers to equalize.");
    if (!model_->topology)
        return tr("The pairs cannot be checked against the network: %1").arg(model_->topologyError);
    RunInput input;
    try {
        input.plan = core::planPairs(model_->model.info, *model_->topology, pairs, allowRelu6);
        core::planRegions(model_->model.info, *model_->topology, regions, allowRelu6, input.plan);
    } catch (const std::exception& e) {
        return describe(e);
    }
    if (continueFromResult && hasResult()) {
        input.previousPlan = resultPlan_;
        input.startLayers = resultLayers_;
    }
    plan_ = mergePlans(input.previousPlan, input.plan);
    // Shares the loaded model with the worker (read-only), keeping the whole LoadedModel alive.
    input.model = std::shared_ptr<const core::Model>(model_, &model_->model);
    input.options = options;
    input.absorbBias = absorbBias;
    absorbed_.clear();
    resultLayers_.clear();
    imbalance_.clear();
    quantization_ = {};
    relu6Costs_.clear();
    summary_.emplace();
    summary_->threshold = options.threshold;
    job_.start(std::move(input));
    emit resultChanged();
    emit runStarted();
    emit busyChanged(true);
    return {};
}

void Session::cancelRun() { job_.cancel(); }

void Session::onRunProgress(const RunUpdate& update)
{
    if (!summary_) return;
    RunUpdate copy = update;
    const int sweep = copy.sweep;
    const float delta = copy.delta;
    mergeUpdate(*summary_, std::move(copy));
    emit runProgressed(sweep, delta);
}

void Session::onRunDone()
{
    RunOutcome out = job_.takeOutcome();
    runSeconds_ = out.seconds;
    emit busyChanged(isBusy());
    if (out.result) {
        summary_ = std::move(out.result->summary);
        resultLayers_ = std::move(out.result->layers);
        plan_ = resultPlan_ = std::move(out.result->plan);
        quantization_ = std::move(out.result->quantization);
        relu6Costs_ = std::move(out.result->relu6Costs);
        absorbed_ = std::move(out.result->absorbed);
        imbalance_ = std::move(out.equalizedImbalance);
        emit runFinished();
        emit resultChanged();
        return;
    }
    // A cancelled or failed run leaves the loaded model as it was and offers no result; its
    // partial history stays visible.
    resultPlan_ = {};
    if (out.cancelled) {
        if (summary_) summary_->cancelled = true;
        emit runCancelled();
    } else {
        emit runFailed(out.error);
    }
    emit resultChanged();
}

void Session::reset()
{
    if (isRunning()) return;
    summary_.reset();
    resultLayers_.clear();
    imbalance_.clear();
    plan_ = resultPlan_ = {};
    quantization_ = {};
    relu6Costs_.clear();
    emit resultChanged();
}

QString Session::startExport(const QString& weightsPath, const QString& reportPath, bool force)
{
    if (!model_ || !hasResult() || !summary_) return tr("Run an equalization first.");
    if (isBusy()) return tr("Wait for the current operation to finish.");
    try {
        core::checkOutputPath(model_->path.toStdString(), weightsPath.toStdString(), force);
    } catch (const std::exception& e) {
        return describe(e);
    }
    exportPath_ = weightsPath;
    emit busyChanged(true);
    auto model = model_;
    auto layers = resultLayers_;
    auto summary = *summary_;
    auto plan = resultPlan_;
    auto quantization = quantization_;
    auto relu6 = relu6Costs_;
    auto absorbed = absorbed_;
    auto cancel = exportCancel_;
    const double runSeconds = runSeconds_;
    exportWatcher_.setFuture(QtConcurrent::run([=]() -> ExportOutcome {
        ExportOutcome out;
        const auto start = std::chrono::steady_clock::now();
        try {
            const auto& info = model->model.info;
            core::ExportOptions options;
            options.force = force;
            options.cancel = cancel.get();
            options.extras = core::exportExtras(info, plan, layers);
            options.inputIdentity = info.identity;
            options.reportPath = reportPath.toStdString();
            options.reportText = [&] {  // the report and the weights are written together
                core::Timings timings;
                timings.load = model->seconds;
                timings.equalize = runSeconds;
                timings.save = std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                                             start).count();
                return core::reportJson(info, summary, timings,
                                        core::ReportExtras{&plan, &quantization, &relu6, nullptr,
                                                           absorbed.empty() ? nullptr
                                                                            : &absorbed});
            };
            core::exportWeights(info.path, layers, weightsPath.toStdString(), options);
            out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
                              .count();
        } catch (const std::exception& e) {
            out.error = describe(e);
        } catch (...) {
            out.error = tr("Export failed with an unknown error.");
        }
        return out;
    }));
    return {};
}

void Session::onExportDone()
{
    ExportOutcome out = exportWatcher_.future().takeResult();
    emit busyChanged(isBusy());
    if (out.error.isEmpty())
        emit exportFinished(exportPath_);
    else
        emit exportFailed(out.error);
}

}  // namespace cle::ui
