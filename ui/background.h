#pragma once
// The one way the application runs work off the GUI thread (load, run, export, the network
// check): BackgroundTask runs a function on a pool thread and hands its outcome, a value or one
// sentence saying why it failed, back on the GUI thread. What a worker threw becomes that
// sentence through one mapping, failureMessage().
#include <exception>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include <QFutureWatcher>
#include <QObject>
#include <QString>
#include <QThreadPool>
#include <QtConcurrent/QtConcurrentRun>

namespace cle::ui {

/// The sentence for an exception thrown while doing `action` ("load %1", "equalize", "export"):
/// the core's own message for its errors, a memory sentence for bad_alloc, otherwise the action
/// and what is known.
QString failureMessage(const std::exception_ptr& error, const QString& action);

/// Runs `work` and returns "" or, when it throws, failureMessage(). For a worker thread.
template <typename Work>
QString runCatching(const QString& action, Work&& work) {
    try {
        work();
        return {};
    } catch (...) {
        return failureMessage(std::current_exception(), action);
    }
}

/// What a background task returns to the GUI thread: its value, or the sentence for what it
/// threw (then `value` is empty).
template <typename T>
struct TaskOutcome {
    std::optional<T> value;
    QString error;
};

/// Work of one kind (at most one at a time) on a pool thread. `done` runs on the thread of
/// `context` (the GUI thread) with the outcome when the work returns or throws. Work returning
/// nothing uses T = std::monostate.
template <typename T>
class BackgroundTask {
public:
    using Outcome = TaskOutcome<T>;

    BackgroundTask(QObject* context, std::function<void(Outcome)> done,
                   QThreadPool* pool = QThreadPool::globalInstance())
        : pool_(pool), done_(std::move(done)) {
        QObject::connect(&watcher_, &QFutureWatcherBase::finished, context,
                         [this] { done_(watcher_.future().takeResult()); });
    }
    BackgroundTask(const BackgroundTask&) = delete;
    BackgroundTask& operator=(const BackgroundTask&) = delete;
    /// Waits for the work: a task never outlives its owner's data.
    ~BackgroundTask() { wait(); }

    /// Starts `work` (which the task must not be running); `action` names it in the error
    /// sentence ("load %1", "export").
    template <typename Work>
    void start(const QString& action, Work work) {
        watcher_.setFuture(QtConcurrent::run(pool_, [action, work = std::move(work)]() mutable {
            Outcome out;
            out.error = runCatching(action, [&] {
                if constexpr (std::is_void_v<std::invoke_result_t<Work&>>) {
                    work();
                    out.value.emplace();
                } else {
                    out.value.emplace(work());
                }
            });
            return out;
        }));
    }
    bool isRunning() const { return watcher_.isRunning(); }
    /// Blocks until the work has returned (at once when none was started).
    void wait() {
        // A watcher that never got a future would wait forever on its empty one.
        if (watcher_.isRunning()) watcher_.waitForFinished();
    }

private:
    QThreadPool* pool_;
    std::function<void(Outcome)> done_;
    QFutureWatcher<Outcome> watcher_;
};

}  // namespace cle::ui
