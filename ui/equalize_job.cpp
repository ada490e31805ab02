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

#include "cle/core/error.h"
#include "ui/loaded_model.h"

namespace cle::ui {

namespace {

using Clock = std::chrono::steady_clock;

/// Makes the calling (worker) thread yield to the GUI thread when the cores are busy, so that
/// the window stays responsive on a loaded machine. Linux threads have their own nice value.
void lowerThreadPriority()
{
#ifdef __linux__
    setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10);
#endif
}

std::map<std::string, double> imbalances(const std::vector<core::Layer>& layers)
{
    std::map<std::string, double> out;
    for (const auto& layer : layers) {
        const LayerStats s = outputStats(layer);
        if (s.valid) out[layer.info.name] = s.imbalance;
    }
    return out;
}

}  // namespace

EqualizeJob::EqualizeJob(QObject* parent) : QObject(parent)
{
    pool_.setMaxThreadCount(1);
    connect(&watcher_, &QFutureWatcher<RunOutcome>::finished, this, &EqualizeJob::finished);
}

EqualizeJob::~EqualizeJob()
{
    cancel();
    wait();
}

void EqualizeJob::start(RunInput input)
{
    shared_ = std::make_shared<Shared>();
    const int generation = ++generation_;
    auto shared = shared_;
    QPointer<EqualizeJob> self(this);

    auto work = [this, self, shared, generation, input = std::move(input)]() -> RunOutcome {
        lowerThreadPriority();
        RunOutcome outcome;
        const auto start = Clock::now();
        UpdateBuilder builder;
        auto lastPost = Clock::now() - std::chrono::hours(1);
        auto callback = [&](const core::Progress& p) {
            if (shared->cancel.load()) return false;
            const auto now = Clock::now();
            const bool due = now - lastPost >= std::chrono::milliseconds(kUpdateIntervalMs);
            // Only post when the GUI has taken the previous update: a slow GUI thread gets fewer,
            // larger updates instead of a growing queue.
            if (due && (p.sweepDone || p.sweep <= 1) && !shared->updatePending.load()) {
                shared->updatePending.store(true);
                lastPost = now;
                RunUpdate update = builder.build(p);
                QMetaObject::invokeMethod(
                    this,
                    [self, generation, update = std::move(update)]() mutable {
                        if (self && self->generation_ == generation)
                            self->deliver(std::move(update));
                    },
                    Qt::QueuedConnection);
            }
            return !shared->cancel.load();
        };
        try {
            RunResult result = runPipeline(input, callback);
            if (result.cancelled || shared->cancel.load()) {
                outcome.cancelled = true;
            } else {
                outcome.equalizedImbalance = imbalances(result.layers);
                outcome.result = std::move(result);
            }
        } catch (const core::Error& e) {
            if (e.kind() == core::ErrorKind::Cancelled || shared->cancel.load())
                outcome.cancelled = true;
            else
                outcome.error = QString::fromStdString(e.what());
        } catch (const std::bad_alloc&) {
            outcome.error = tr("Out of memory while equalizing.");
        } catch (const std::exception& e) {
            outcome.error = tr("Equalization failed: %1").arg(QString::fromStdString(e.what()));
        } catch (...) {
            outcome.error = tr("Equalization failed with an unknown error.");
        }
        outcome.seconds = std::chrono::duration<double>(Clock::now() - start).count();
        return outcome;
    };
    watcher_.setFuture(QtConcurrent::run(&pool_, std::move(work)));
}

void EqualizeJob::deliver(RunUpdate update)
{
    if (shared_) shared_->updatePending.store(false);
    emit progressed(update);
}

void EqualizeJob::cancel()
{
    if (shared_) shared_->cancel.store(true);
}

void EqualizeJob::wait()
{
    if (watcher_.isRunning()) watcher_.waitForFinished();
}

bool EqualizeJob::isRunning() const { return watcher_.isRunning(); }

RunOutcome EqualizeJob::takeOutcome()
{
    if (!watcher_.future().isValid() || watcher_.future().resultCount() == 0) return {};
    return watcher_.future().takeResult();
}

}  // namespace cle::ui
