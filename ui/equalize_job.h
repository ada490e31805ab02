#pragma once
// One equalization run on a worker thread. Inputs are moved into the job; progress reaches the
// GUI thread as queued, throttled, incremental updates; cancel is an atomic flag the core's
// progress callback reads. The job never outlives its owner: the destructor cancels and waits.
#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include <QFutureWatcher>
#include <QObject>
#include <QString>
#include <QThreadPool>

#include "cle/core/equalizer.h"
#include "ui/run_pipeline.h"
#include "ui/run_update.h"

namespace cle::ui {

struct RunOutcome {
    std::optional<RunResult> result;  ///< set when the run completed (converged or not)
    bool cancelled = false;
    QString error;  ///< set when the core threw
    double seconds = 0;
    /// Range imbalance of each equalized layer's output channels, by layer name.
    std::map<std::string, double> equalizedImbalance;
};

class EqualizeJob : public QObject {
    Q_OBJECT
public:
    explicit EqualizeJob(QObject* parent = nullptr);
    ~EqualizeJob() override;

    /// Starts a run of runPipeline(input) on the worker thread; the job must not be running.
    void start(RunInput input);
    /// Asks the run to stop at the core's next progress call (after at most one pair).
    void cancel();
    /// Blocks until the worker has returned.
    void wait();
    bool isRunning() const;
    /// The outcome of the finished run; valid after finished().
    RunOutcome takeOutcome();

    /// Minimum time between two progress updates.
    static constexpr int kUpdateIntervalMs = 100;

signals:
    void progressed(const cle::ui::RunUpdate& update);
    void finished();

private:
    struct Shared {
        std::atomic<bool> cancel{false};
        std::atomic<bool> updatePending{false};
    };
    void deliver(RunUpdate update);

    /// A private pool: its thread runs at a lower priority than the GUI thread.
    QThreadPool pool_;
    QFutureWatcher<RunOutcome> watcher_;
    std::shared_ptr<Shared> shared_;
    int generation_ = 0;
};

}  // namespace cle::ui
