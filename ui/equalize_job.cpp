#include "ui/equalize_job.h"

#include <chrono>
#include <exception>

#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include <QPointer>
#include <QtConcurrent/QtConcurrentRun>

#include "ui/background.h"
#include "ui/loaded_model.h"

namespace cle::ui {

namespace {

using Clock = std::chrono::steady_clock;

/// Makes the calling (worker) thread yield to the GUI thread when the cores are busy, so that
/// the window stays responsive on a loaded machine. Linux threads have their own nice value.
void lowerThreadPriority() {
#ifdef __linux__
    setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10);
#endif
}

std::map<std::string, double> imbalances(const std::vector<core::Layer>& layers) {
    std::map<std::string, double> out;
    for (const auto& layer : layers) {
        const LayerStats s = outputStats(layer);
        if (s.valid) out[layer.info.name] = s.imbalance;
    }
    return out;
}

}  // namespace

EqualizeJob::EqualizeJob(QObject* parent) : QObject(parent) {
    pool_.setMaxThreadCount(1);
    connect(&watcher_, &QFutureWatcher<std::shared_ptr<const RunRecord>>::finished, this,
            &EqualizeJob::finished);
}

EqualizeJob::~EqualizeJob() {
    cancel();
    wait();
}

void EqualizeJob::start(core::RunRequest request) {
    auto shared = shared_ = std::make_shared<Shared>();
    const int generation = ++generation_;
    QPointer<EqualizeJob> self(this);
    auto lastPost = std::make_shared<Clock::time_point>(Clock::now() - std::chrono::hours(1));
    // Events queue up on the worker; a delivery is posted only when the GUI took the previous
    // one and the interval has passed: a slow GUI thread gets fewer, larger batches.
    // The callback lives in `shared` (its feedback): it holds `shared` weakly, not in a cycle.
    std::weak_ptr<Shared> weak = shared;
    shared->feedback.onSweep = [this, self, weak, generation,
                                lastPost](const core::SweepEvent& event) {
        const auto shared = weak.lock();
        if (!shared) return;
        std::lock_guard lock(shared->mutex);
        shared->pending.push_back(event);
        const auto now = Clock::now();
        if (shared->posted || now - *lastPost < std::chrono::milliseconds(kUpdateIntervalMs))
            return;
        shared->posted = true;
        *lastPost = now;
        QMetaObject::invokeMethod(
            this,
            [self, shared, generation] {
                if (self && self->generation_ == generation) self->deliver(shared);
            },
            Qt::QueuedConnection);
    };

    auto work = [shared, request = std::move(request)]() -> std::shared_ptr<const RunRecord> {
        lowerThreadPriority();
        auto record = std::make_shared<RunRecord>();
        const auto start = Clock::now();
        const QString error = runCatching(tr("equalize"), [&] {
            record->outcome = core::runEqualization(request, shared->feedback);
        });
        if (!error.isEmpty()) {
            record->outcome.ending =
                shared->feedback.isCancelled() ? core::Ending::Cancelled : core::Ending::Failed;
            record->outcome.message = error.toStdString();
        }
        if (record->outcome.completed())
            record->equalizedImbalance = imbalances(record->outcome.layers);
        record->seconds = std::chrono::duration<double>(Clock::now() - start).count();
        return record;
    };
    watcher_.setFuture(QtConcurrent::run(&pool_, std::move(work)));
}

void EqualizeJob::deliver(const std::shared_ptr<Shared>& shared) {
    std::vector<core::SweepEvent> events;
    {
        std::lock_guard lock(shared->mutex);
        events.swap(shared->pending);
        shared->posted = false;
    }
    if (!events.empty()) emit progressed(events);
}

void EqualizeJob::cancel() {
    if (shared_) shared_->feedback.cancel();
}

void EqualizeJob::wait() {
    if (watcher_.isRunning()) watcher_.waitForFinished();
}

bool EqualizeJob::isRunning() const { return watcher_.isRunning(); }

std::shared_ptr<const RunRecord> EqualizeJob::takeRecord() {
    if (!watcher_.future().isValid() || watcher_.future().resultCount() == 0) return {};
    return watcher_.future().takeResult();
}

}  // namespace cle::ui
