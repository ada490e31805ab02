#include "ui/equalize_job.h"

#include <chrono>
#include <exception>

#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include <utility>

#include <QPointer>

#include "ui/loaded_model.h"

namespace cle::ui {

namespace {

using Clock = std::chrono::steady_clock;

/// Makes the calling (worker) thread yield to the GUI thread when the cores are
/// busy, so that the window stays responsive on a loaded machine. Linux threads
/// have their own nice value.
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

EqualizeJob::EqualizeJob(QObject* parent)
    : QObject(parent),
      task_(
          this, [this](Task::Outcome out) { onDone(std::move(out)); }, &pool_) {
    pool_.setMaxThreadCount(1);
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
    // Events queue up on the worker; a delivery is posted only when the GUI took
    // the previous one and the interval has passed: a slow GUI thread gets fewer,
    // larger batches. The callback lives in `shared` (its feedback): it holds
    // `shared` weakly, not in a cycle.
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

    record_.reset();
    started_ = Clock::now();
    task_.start(tr("equalize"),
                [shared, request = std::move(request)]() -> std::shared_ptr<RunRecord> {
                    lowerThreadPriority();
                    auto record = std::make_shared<RunRecord>();
                    record->outcome = core::runEqualization(request, shared->feedback);
                    if (record->outcome.completed())
                        record->equalizedImbalance = imbalances(record->outcome.layers);
                    return record;
                });
}

// On the GUI thread: the record of the run, or of its failure in the task's one
// sentence.
void EqualizeJob::onDone(Task::Outcome out) {
    auto record = out.value ? std::move(*out.value) : std::make_shared<RunRecord>();
    if (!out.value) {
        const bool cancelled = shared_ && shared_->feedback.isCancelled();
        record->outcome.ending = cancelled ? core::Ending::Cancelled : core::Ending::Failed;
        record->outcome.message = out.error.toStdString();
    }
    record->seconds = std::chrono::duration<double>(Clock::now() - started_).count();
    record_ = std::move(record);
    emit finished();
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

void EqualizeJob::wait() { task_.wait(); }

bool EqualizeJob::isRunning() const { return task_.isRunning(); }

std::shared_ptr<const RunRecord> EqualizeJob::takeRecord() { return std::exchange(record_, {}); }

}  // namespace cle::ui
