#pragma once
// Run settings (remembered between sessions), Run / Cancel / Reset, live progress and a plain
// statement of how the last run ended.
#include <QWidget>

#include "cle/core/equalizer.h"

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
    QCheckBox* continueBox() const { return continue_; }
    QLineEdit* thresholdEdit() const { return threshold_; }
    QSpinBox* maxSweepsBox() const { return maxSweeps_; }
    /// The outcome sentence currently shown.
    QString outcomeText() const;

    void runStarted(int maxSweeps, double threshold);
    void progressed(int sweep, float delta);
    /// Describes the finished run: converged or not, dead channels, constant inputs.
    void finished(const core::Summary& summary, double seconds);
    void cancelled(int sweepsDone);
    void failed(const QString& message);
    void clearOutcome();
    void setResultAvailable(bool available);

    /// Reads/writes the threshold and max sweeps in QSettings.
    void loadSettings();
    void saveSettings() const;

private:
    void setOutcome(const QString& text, const QString& color);

    QLineEdit* threshold_;
    QSpinBox* maxSweeps_;
    QCheckBox* continue_;
    QProgressBar* progress_;
    QLabel* status_;
    QLabel* outcome_;
    double runThreshold_ = 0;
};

/// One sentence describing how a run ended, as RunPanel shows it.
QString describeOutcome(const core::Summary& summary);

}  // namespace cle::ui
