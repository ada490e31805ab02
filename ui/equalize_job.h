#pragma once
// One equalization run (core::runEqualization) on a worker thread, a
// BackgroundTask as load and export are (what the run throws becomes the same
// one sentence). The request is moved into the job; the engine's sweep events
// reach the GUI thread in queued, throttled batches; cancel goes through the
// run's core::Feedback. The job never outlives its owner: the destructor
// cancels and waits.
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <QObject>
#include <QString>
#include <QThreadPool>

#include "cle/core/pipeline.h"
#include "ui/background.h"

namespace cle::ui {

/// A finished run as the application keeps it: one immutable value shared with
/// the views and the export.
struct RunRecord {
    core::RunOutcome outcome;  ///< ending Failed with the message when the core threw
    /// Range imbalance of each equalized layer's output channels, by layer name.
    std::map<std::string, double> equalizedImbalance;
    double seconds = 0;  ///< wall time of the whole run
};

class EqualizeJob : public QObject {
    Q_OBJECT
public:
    explicit EqualizeJob(QObject* parent = nullptr);
    ~EqualizeJob() override;

    /// Starts core::runEqualization(request) on the worker thread; the job must
    /// not be running.
    void start(core::RunRequest request);
    /// Asks the run to stop at the core's next progress call (after at most one
    /// pair).
    void cancel();
    /// Blocks until the worker has returned.
    void wait();
    bool isRunning() const;
    /// The record of the finished run; valid after finished().
    std::shared_ptr<const RunRecord> takeRecord();

    /// Minimum time between two deliveries of sweep events.
    static constexpr int kUpdateIntervalMs = 100;

signals:
    /// Sweep events since the previous delivery, in order (sweep 0: the state
    /// before the first).
    void progressed(const std::vector<cle::core::SweepEvent>& events);
    void finished();

private:
    struct Shared {
        core::Feedback feedback;
        std::mutex mutex;
        std::vector<core::SweepEvent> pending;  ///< events not yet delivered
        bool posted = false;                    ///< a delivery is queued
    };
    using Task = BackgroundTask<std::shared_ptr<RunRecord>>;
    void deliver(const std::shared_ptr<Shared>& shared);
    void onDone(Task::Outcome out);

    /// A private pool: its thread runs at a lower priority than the GUI thread.
    QThreadPool pool_;
    Task task_;
    std::shared_ptr<Shared> shared_;
    std::shared_ptr<const RunRecord> record_;
    std::chrono::steady_clock::time_point started_;
    int generation_ = 0;
};

}  // namespace cle::ui
