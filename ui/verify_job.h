#pragma once
// The network-level check of a run's result on a worker thread: the loaded network and the
// equalized one (batch norms folded, ReLU6 relaxed as the export writes them) on the same
// inputs, in float32 and with INT8 weights and activations. Cancel is an atomic flag the
// evaluator reads between layers; the job never outlives its owner.
#include <atomic>
#include <memory>
#include <optional>
#include <vector>

#include <QObject>
#include <QString>
#include <QThreadPool>

#include "cle/core/model.h"
#include "cle/core/pipeline.h"
#include "cle/core/verification.h"
#include "ui/background.h"

namespace cle::ui {

struct VerifyInput {
    /// The loaded model (weights, graph, and what its evaluation reads), shared read-only: the
    /// check does not open its file again.
    std::shared_ptr<const core::Model> model;
    /// The result checked (its plan and changed layers), shared read-only.
    std::shared_ptr<const core::RunOutcome> result;
    QString inputsFile;  ///< "" = 8 uniform random inputs
};

struct VerifyOutcome {
    std::optional<core::Verification> result;
    bool cancelled = false;
    bool unsupported = false;  ///< the graph cannot be evaluated (`error` says why)
    QString error;
};

class VerifyJob : public QObject {
    Q_OBJECT
public:
    explicit VerifyJob(QObject* parent = nullptr);
    ~VerifyJob() override;

    /// Starts checking `input`; a check under way is cancelled first.
    void start(VerifyInput input);
    void cancel();
    void wait();
    bool isRunning() const;
    /// The outcome of the finished check; valid after finished().
    VerifyOutcome takeOutcome();

    /// The check as run on the worker (exposed for tests); `cancel` may be null.
    static VerifyOutcome check(const VerifyInput& input, const std::atomic<bool>* cancel);

signals:
    void finished();

private:
    void onDone(BackgroundTask<VerifyOutcome>::Outcome out);

    QThreadPool pool_;
    BackgroundTask<VerifyOutcome> task_;
    VerifyOutcome outcome_;
    std::shared_ptr<std::atomic<bool>> cancel_;
};

}  // namespace cle::ui
