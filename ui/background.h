#pragma once
// What the application's background work (load, run, export) shares: one mapping from what a
// worker thread threw to the sentence the user reads.
#include <exception>

#include <QString>

namespace cle::ui {

/// The sentence for an exception thrown while doing `action` ("load %1", "equalize", "export"):
/// the core's own message for its errors, a memory sentence for bad_alloc, otherwise the action
/// and what is known.
QString failureMessage(const std::exception_ptr& error, const QString& action);

/// Runs `work` and returns "" or, when it throws, failureMessage(). For a worker thread.
template <typename Work>
QString runCatching(const QString& action, Work&& work)
{
    try {
        work();
        return {};
    } catch (...) {
        return failureMessage(std::current_exception(), action);
    }
}

}  // namespace cle::ui
