#include "ui/verify_job.h"

#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include <utility>

#include "cle/core/error.h"
#include "ui/file_check.h"

namespace cle::ui {

VerifyJob::VerifyJob(QObject* parent)
    : QObject(parent),
      task_(
          this, [this](BackgroundTask<VerifyOutcome>::Outcome out) { onDone(std::move(out)); },
          &pool_) {
    pool_.setMaxThreadCount(1);
}

void VerifyJob::onDone(BackgroundTask<VerifyOutcome>::Outcome out) {
    if (out.value)
        outcome_ = std::move(*out.value);
    else
        outcome_ = {{}, false, false, out.error};
    emit finished();
}

VerifyJob::~VerifyJob() {
    cancel();
    wait();
}

VerifyOutcome VerifyJob::check(const VerifyInput& input, const std::atomic<bool>* cancel) {
    VerifyOutcome out;
    std::optional<core::Network> original;
    try {
        original = core::Network::load(input.model->info.path, *input.model);
    } catch (const core::Error& e) {
        out.unsupported = true;
        out.error = QString::fromStdString(e.what());
        return out;
    }
    try {
        if (!input.inputsFile.isEmpty()) {
            const core::Feedback feedback(cancel);
            checkInSeparateProcess(input.inputsFile, &feedback, true);
        }
        core::VerifyOptions o;
        o.inputsFile = input.inputsFile.toStdString();
        o.activations = true;
        o.openSize = 64;  // a fully convolutional model: 64 x 64 random images
        o.cancel = cancel;
        out.result = core::verifyResult(*original, *input.model, input.result->plan,
                                        input.result->layers, o);
    } catch (const core::Error& e) {
        out.cancelled = e.kind() == core::ErrorKind::Cancelled;
        if (!out.cancelled) out.error = QString::fromStdString(e.what());
    } catch (const std::exception& e) {
        out.error = tr("The check failed: %1").arg(QString::fromStdString(e.what()));
    }
    return out;
}

void VerifyJob::start(VerifyInput input) {
    cancel();
    cancel_ = std::make_shared<std::atomic<bool>>(false);
    auto flag = cancel_;
    task_.start(tr("check the network"), [flag, input = std::move(input)] {
#ifdef __linux__
        // Yield to the GUI thread on a busy machine; the evaluator's threads inherit this.
        setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10);
#endif
        return check(input, flag.get());
    });
}

void VerifyJob::cancel() {
    if (cancel_) cancel_->store(true);
}

void VerifyJob::wait() { task_.wait(); }

bool VerifyJob::isRunning() const { return task_.isRunning(); }

VerifyOutcome VerifyJob::takeOutcome() { return std::exchange(outcome_, {}); }

}  // namespace cle::ui
