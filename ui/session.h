#pragma once
// The document behind the main window: the loaded model, the pair list's last run and its
// result, and the background work on them (load, equalize, export). No widgets here, so tests
// can drive it directly and wait on its signals.
#include <map>
#include <memory>
#include <optional>
#include <variant>
#include <vector>

#include <QObject>
#include <QString>

#include "cle/core/feedback.h"
#include "cle/core/pairs.h"
#include "cle/core/pipeline.h"
#include "ui/background.h"
#include "ui/equalize_job.h"
#include "ui/loaded_model.h"
#include "ui/pair_list.h"

namespace cle::ui {

class Session : public QObject {
    Q_OBJECT
public:
    explicit Session(QObject* parent = nullptr);
    /// Cancels a run and waits for every background job.
    ~Session() override;

    // --- loading ---------------------------------------------------------------------------
    /// Starts loading `path` in the background. The open model stays until the new one loads;
    /// a failed load keeps it. Ignored (returns false) while a run or another load is going on.
    bool open(const QString& path);
    bool isLoading() const { return loadTask_.isRunning(); }
    /// The model as loaded from disk; null before the first successful load.
    std::shared_ptr<const LoadedModel> model() const { return model_; }

    /// The pair list to equalize; a new load clears it.
    PairList* pairList() { return &pairs_; }
    const PairList* pairList() const { return &pairs_; }

    // --- running ---------------------------------------------------------------------------
    /// Checks `pairs` against the layer graph (core::planPairs, as `cle equalize` does) and
    /// starts equalizing them with the plan's batch norms folded: from the loaded weights, or
    /// from the last result when `continueFromResult` and a result exists. Returns an empty
    /// string on success, otherwise why the run cannot start (nothing runs).
    QString startRun(const std::vector<core::LayerPair>& pairs,
                     const core::EqualizeOptions& options, bool allowRelu6, bool continueFromResult,
                     const std::vector<core::RegionNames>& regions = {}, bool absorbBias = false);
    void cancelRun();
    /// For closing: cancels a run and a file check under way (an export finishes), and waits
    /// for every background job.
    void stopForClose();
    bool isRunning() const { return job_.isRunning(); }
    /// The history of the current or last run (live while running); null before any run.
    const core::Summary* summary() const;
    /// The finished result; null while running, after a cancel, a reset or a new load.
    bool hasResult() const { return result_ && result_->outcome.completed() && !isRunning(); }
    /// The finished run as one immutable value (also a cancelled or failed one); null before
    /// any run, while running, after a reset or a new load.
    std::shared_ptr<const RunRecord> result() const { return isRunning() ? nullptr : result_; }
    /// Every layer changed by the run(s) since the loaded weights (what export writes).
    const std::vector<core::Layer>& resultLayers() const;
    const std::map<std::string, double>& equalizedImbalance() const;
    /// The plan of the result (batch norms folded, ReLU6 relaxed); of the run under way while
    /// running.
    const core::RunPlan& plan() const;
    /// What relaxing each ReLU6 of the result's plan costs (empty without a result).
    const std::vector<core::Relu6Cost>& relu6Costs() const;
    /// What high-bias absorption moved in the last run (empty when it was not asked for).
    const std::vector<core::AbsorbedBias>& absorbed() const;
    /// INT8 quantization figures of the equalized layers; null without a result.
    const core::QuantizationReport* quantization() const {
        return hasResult() ? &result_->outcome.quantization : nullptr;
    }
    double runSeconds() const { return result_ ? result_->seconds : 0; }
    /// Drops the result and returns to the loaded weights.
    void reset();

    // --- export ----------------------------------------------------------------------------
    /// Writes the equalized weights (and the report when `reportPath` is not empty) in the
    /// background; exportFinished or exportFailed follows. Returns why it cannot start, or "".
    QString startExport(const QString& weightsPath, const QString& reportPath, bool force);
    bool isExporting() const { return exportTask_.isRunning(); }

    bool isBusy() const { return isLoading() || isRunning() || isExporting(); }
    /// Blocks until every background job has returned.
    void waitForIdle();

signals:
    void loadStarted(const QString& path);
    void modelLoaded();
    void loadFailed(const QString& message);
    void runStarted();
    /// The live history grew (see summary()).
    void runProgressed(int sweep, float delta);
    /// A run completed, converged or not (see summary()).
    void runFinished();
    void runCancelled();
    void runFailed(const QString& message);
    /// The result appeared or went away (export availability).
    void resultChanged();
    void exportFinished(const QString& weightsPath);
    void exportFailed(const QString& message);
    void busyChanged(bool busy);

private:
    using LoadTask = BackgroundTask<std::shared_ptr<const LoadedModel>>;
    using ExportTask = BackgroundTask<std::monostate>;
    void onLoadDone(LoadTask::Outcome out);
    void onRunProgress(const std::vector<core::SweepEvent>& events);
    void onRunDone();
    void onExportDone(const ExportTask::Outcome& out);
    /// Forgets the result and the live history (a new load, a reset).
    void clearResult();

    std::shared_ptr<const LoadedModel> model_;
    PairList pairs_;
    QString pendingPath_;
    /// The load under way's: cancelled when the session goes away, which stops its file check.
    std::shared_ptr<core::Feedback> loadFeedback_ = std::make_shared<core::Feedback>();
    LoadTask loadTask_;

    EqualizeJob job_;
    /// The run under way: its history as the sweep events arrive, and its (merged) plan.
    std::optional<core::Summary> live_;
    core::RunPlan livePlan_;
    /// The last finished run (completed, cancelled or failed), shared with the export.
    std::shared_ptr<const RunRecord> result_;

    ExportTask exportTask_;
    QString exportPath_;
    /// Cancelled when the session goes away: an export under way stops and leaves no file.
    std::shared_ptr<core::Feedback> exportFeedback_ = std::make_shared<core::Feedback>();
};

}  // namespace cle::ui
