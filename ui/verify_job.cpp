#include "ui/verify_job.h"

#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include <QtConcurrent/QtConcurrentRun>

#include "cle/core/error.h"

namespace cle::ui {

VerifyJob::VerifyJob(QObject* parent) : QObject(parent)
{
    pool_.setMaxThreadCount(1);
    connect(&watcher_, &QFutureWatcher<VerifyOutcome>::finished, this, &VerifyJob::finished);
}

VerifyJob::~VerifyJob()
{
    cancel();
    wait();
}

VerifyOutcome VerifyJob::check(const VerifyInput& input, const std::atomic<bool>* cancel)
{
    VerifyOutcome out;
    std::optional<core::Network> original;
    try {
        original = core::Network::load(input.path, *input.model);
    } catch (const core::Error& e) {
        out.unsupported = true;
        out.error = QString::fromStdString(e.what());
        return out;
    }
    try {
        core::Model candidate = *input.model;
        core::applyLayers(candidate, input.layers);
        core::NetworkOptions folded;
        for (const auto& bn : input.plan.batchNorms) folded.identityNorms.push_back(bn.name);
        folded.relaxedRelu6 = input.plan.relu6;
        const core::Network after = core::Network::load(input.path, candidate, folded);
        std::optional<core::Network> relaxed;
        if (!input.plan.relu6.empty())
            relaxed = core::Network::load(input.path, *input.model, {{}, input.plan.relu6});
        core::VerifyOptions o;
        o.inputsFile = input.inputsFile.toStdString();
        o.activations = true;
        o.openSize = 64;  // a fully convolutional model: 64 x 64 random images
        o.cancel = cancel;
        out.result = core::verifyNetworks(*original, relaxed ? &*relaxed : nullptr, after,
                                          input.plan.relu6, o);
    } catch (const core::Error& e) {
        out.cancelled = e.kind() == core::ErrorKind::Cancelled;
        if (!out.cancelled) out.error = QString::fromStdString(e.what());
    } catch (const std::exception& e) {
        out.error = tr("The check failed: %1").arg(QString::fromStdString(e.what()));
    }
    return out;
}

void VerifyJob::start(VerifyInput input)
{
    cancel();
    cancel_ = std::make_shared<std::atomic<bool>>(false);
    auto flag = cancel_;
    watcher_.setFuture(QtConcurrent::run(&pool_, [flag, input = std::move(input)] {
#ifdef __linux__
        // Yield to the GUI thread on a busy machine; the evaluator's threads inherit this.
        setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10);
#endif
        return check(input, flag.get());
    }));
}

void VerifyJob::cancel()
{
    if (cancel_) cancel_->store(true);
}

void VerifyJob::wait()
{
    if (watcher_.isRunning()) watcher_.waitForFinished();
}

bool VerifyJob::isRunning() const { return watcher_.isRunning(); }

VerifyOutcome VerifyJob::takeOutcome()
{
    if (!watcher_.future().isValid() || watcher_.future().resultCount() == 0) return {};
    return watcher_.future().takeResult();
}

}  // namespace cle::ui
