#pragma once
// Run settings (remembered between sessions) and Run / Cancel / Reset in one row, live progress,
// and how the last run ended as leveled messages. The window places the progress bar, the status
// label and the message panel where they fit (status bar, below the plots).
#include <QWidget>

#include "ui/message_panel.h"

#include "cle/core/bias_absorption.h"
#include "cle/core/equalizer.h"
#include "cle/core/quantization.h"
#include "cle/core/run_plan.h"

class QCheckBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QSpinBox;
class QToolButton;
class QAction;

namespace cle::ui {

class RunPanel : public QWidget {
    Q_OBJECT
public:
    /// The buttons trigger the window's actions, so shortcuts and buttons stay in step.
    RunPanel(QAction* run, QAction* cancel, QAction* reset, QWidget* parent = nullptr);

    /// Threshold and max sweeps as entered; `error` receives why they are invalid.
    bool options(core::EqualizeOptions& options, QString* error) const;
    void setOptions(double threshold, int maxSweeps);
    bool continueFromResult() const;
    /// Pairs across ReLU6 are allowed; the export then turns those ReLU6 into ReLU.
    bool allowRelu6() const;
    QCheckBox* continueBox() const { return continue_; }
    QCheckBox* allowRelu6Box() const { return allowRelu6_; }
    /// "Absorb high biases": high-bias absorption after equalizing (`cle --absorb-bias`).
    bool absorbBias() const;
    QCheckBox* absorbBiasBox() const { return absorbBias_; }
    QLineEdit* thresholdEdit() const { return threshold_; }
    QSpinBox* maxSweepsBox() const { return maxSweeps_; }
    /// The outcome currently shown: the summary line, then every message ("" when none).
    QString outcomeText() const;
    MessagePanel* messagePanel() const { return messages_; }
    QProgressBar* progressBar() const { return progress_; }
    QLabel* statusLabel() const { return status_; }

    void runStarted(int maxSweeps, double threshold);
    void progressed(int sweep, float delta);
    /// Describes the finished run: converged or not, dead channels, constant inputs, what the
    /// plan folded or relaxed, and the quantization gain.
    void finished(const core::Summary& summary, double seconds, const core::RunPlan& plan,
                  const core::QuantizationReport* quantization,
                  const std::vector<core::Relu6Cost>& relu6 = {},
                  const std::vector<core::AbsorbedBias>& absorbed = {});
    /// What relaxing ReLU6 cost in the last run, shown next to "Allow ReLU6" ("" when none).
    QString relu6CostText() const;
    void cancelled(int sweepsDone);
    void failed(const QString& message);
    void clearOutcome();
    void setResultAvailable(bool available);

    /// Reads/writes the threshold, max sweeps and "Allow ReLU6" in QSettings.
    void loadSettings();
    void saveSettings() const;

signals:
    void allowRelu6Changed(bool allow);

private:
    QLineEdit* threshold_;
    QSpinBox* maxSweeps_;
    QCheckBox* continue_;
    QCheckBox* allowRelu6_;
    QCheckBox* absorbBias_;
    QLabel* relu6Cost_;
    QProgressBar* progress_;
    QLabel* status_;
    MessagePanel* messages_;
    double runThreshold_ = 0;
};

/// How a run ended: whether it converged (a warning when not, saying when the delta stalled
/// above the threshold), then dead channels, constant inputs and amplified biases per pair.
std::vector<Message> outcomeMessages(const core::Summary& summary);
/// The sweeps over which the delta stayed flat at the end of a run that did not converge (the
/// float32 sweep cannot go lower), or 0 when it was still falling.
int stalledSweeps(const std::vector<float>& deltas);
/// What the plan changed besides equalizing: folded batch norms, ReLU6 → ReLU on export, guessed
/// links; one message each, with one detail line per layer.
std::vector<Message> planMessages(const core::RunPlan& plan);
/// One message for high-bias absorption: how many channels moved per pair (none when empty).
std::vector<Message> absorptionMessages(const std::vector<core::AbsorbedBias>& absorbed);
/// "2 ReLU6 relaxed · ≤6.2% of inputs above 6", or "" when none; `details` receives one line per
/// layer (for the tooltip).
QString describeRelu6Costs(const std::vector<core::Relu6Cost>& costs, QString* details = nullptr);
/// The run message naming the layers equalization collapsed, one detail line each (empty text
/// when none).
Message collapseMessage(const core::QuantizationReport& report);
/// "Per-tensor INT8 SQNR: median 18.2 → 31.0 dB, worst …", or "" without figures.
QString describeQuantization(const core::QuantizationReport& report);
/// "WARNING: equalization collapsed 2 layers under INT8: conv3 (87% of weights round to zero,
/// 5 channels all zero), …" and a note on how they count, ending with a space; "" when none.
QString collapseWarning(const core::QuantizationReport& report);

}  // namespace cle::ui
