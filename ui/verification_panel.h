#pragma once
// The headline of a run: the network-level check of its result ("INT8 output SQNR 9.7 dB ->
// 27.2 dB (weights per tensor, 8 random inputs); function kept (max change 2e-7)"), with the
// per-channel and W8A8 figures beside it, progress and cancel while it runs, and the choice of
// inputs (random or from a file). A changed function is shown as an error; below the headline,
// the verdict on INT8 at the output (closer to the float network, unchanged, or further: then the
// original weights quantize better, shown as a warning).
#include <QWidget>

#include "cle/core/verification.h"

class QLabel;
class QProgressBar;
class QToolButton;

namespace cle::ui {

class VerificationPanel : public QWidget {
    Q_OBJECT
public:
    explicit VerificationPanel(QWidget* parent = nullptr);

    void started();
    void finished(const core::Verification& v);
    /// The graph cannot be evaluated: why, plainly (not an error).
    void unsupported(const QString& why);
    void failed(const QString& message);
    void cancelled();
    void clear();
    /// The inputs file the next check uses ("" = random inputs).
    void setInputsFile(const QString& path);
    QString inputsFile() const { return inputsFile_; }

    QString headlineText() const;
    QString detailText() const;
    /// The INT8 verdict ("" when there is none: no check, or the function changed).
    QString verdictText() const;
    /// The verdict is that equalization made INT8 at the output worse.
    bool isShowingWarning() const { return warning_; }
    bool isShowingError() const { return error_; }
    QToolButton* cancelButton() const { return cancel_; }
    QToolButton* inputsButton() const { return inputs_; }

    /// The headline sentence for `v` (`inputs`: how the inputs were chosen).
    static QString headline(const core::Verification& v);
    /// Per-channel and W8A8 figures, top-1 agreement.
    static QString details(const core::Verification& v);

signals:
    void cancelRequested();
    /// The user chose other inputs: run the check again on them.
    void inputsChanged();

private:
    void show(const QString& headline, const QString& detail, const QString& color);
    /// The INT8 verdict of a check that kept the function; null hides it.
    void showVerdict(const core::Verification* v);
    void chooseInputs();

    QLabel* headline_;
    QLabel* detail_;
    QLabel* verdict_;
    QProgressBar* progress_;
    QToolButton* cancel_;
    QToolButton* inputs_;
    QToolButton* random_;
    QString inputsFile_;
    bool error_ = false;
    bool warning_ = false;
};

}  // namespace cle::ui
