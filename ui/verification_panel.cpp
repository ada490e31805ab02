#include "ui/verification_panel.h"

#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QToolButton>
#include <QVBoxLayout>
#include <cmath>

#include "cle/core/int8_verdict.h"
#include "ui/prompter.h"

namespace cle::ui {

namespace {

QString db(double v) { return std::isfinite(v) ? QString::number(v, 'f', 1) : QStringLiteral("∞"); }

QString figure(double v) { return QString::number(v, 'g', 2); }

}  // namespace

VerificationPanel::VerificationPanel(QWidget* parent) : QWidget(parent) {
    headline_ = new QLabel(this);
    headline_->setWordWrap(true);
    headline_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    QFont big = headline_->font();
    big.setBold(true);
    big.setPointSizeF(big.pointSizeF() * 1.15);
    headline_->setFont(big);
    verdict_ = new QLabel(this);
    verdict_->setWordWrap(true);
    verdict_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    QFont bold = verdict_->font();
    bold.setBold(true);
    verdict_->setFont(bold);
    verdict_->hide();
    detail_ = new QLabel(this);
    detail_->setWordWrap(true);
    detail_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    progress_ = new QProgressBar(this);
    progress_->setRange(0, 0);
    progress_->setMaximumWidth(120);
    progress_->hide();
    cancel_ = new QToolButton(this);
    cancel_->setText(tr("Cancel check"));
    cancel_->hide();
    inputs_ = new QToolButton(this);
    inputs_->setText(tr("Inputs from file…"));
    inputs_->setToolTip(
        tr("An HDF5 file with a float32 dataset 'inputs' [N, ...] in the "
           "model's input layout (several inputs: one dataset per input name)"));
    random_ = new QToolButton(this);
    random_->setText(tr("Random inputs"));
    random_->setEnabled(false);

    auto* buttons = new QHBoxLayout;
    buttons->addWidget(progress_);
    buttons->addWidget(cancel_);
    buttons->addStretch(1);
    buttons->addWidget(inputs_);
    buttons->addWidget(random_);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(headline_);
    layout->addWidget(verdict_);
    layout->addWidget(detail_);
    layout->addLayout(buttons);

    connect(cancel_, &QToolButton::clicked, this, &VerificationPanel::cancelRequested);
    connect(inputs_, &QToolButton::clicked, this, &VerificationPanel::chooseInputs);
    connect(random_, &QToolButton::clicked, this, [this] {
        setInputsFile({});
        emit inputsChanged();
    });
    clear();
}

QString VerificationPanel::headline(const core::Verification& v) {
    const bool one = v.count == 1;
    const QString inputs = v.inputSource == "file"
                               ? (one ? tr("1 input from file") : tr("%1 inputs from file"))
                               : (one ? tr("1 random input") : tr("%1 random inputs"));
    // With ReLU6 relaxed, the headline is what equalization itself does: the relaxation on both
    // sides. The figures against the original's clipping network follow in the details.
    const bool relaxed = v.relaxedPerTensorOriginalDb.has_value();
    QString text =
        (relaxed ? tr("INT8 output SQNR %1 dB -> %2 dB (weights per tensor, ReLU6 relaxed on both "
                      "sides, %3); ")
                 : tr("INT8 output SQNR %1 dB -> %2 dB (weights per tensor, %3); "))
            .arg(db(relaxed ? *v.relaxedPerTensorOriginalDb : v.perTensorOriginalDb),
                 db(relaxed ? *v.relaxedPerTensorCandidateDb : v.perTensorCandidateDb),
                 one ? inputs : inputs.arg(v.count));
    const double change = v.relaxationMatchedChange.value_or(v.maxRelativeChange);
    if (v.preserved) return text + tr("function kept (max change %1)").arg(figure(change));
    return text + tr("FUNCTION CHANGED (max change %1, tolerance %2): do not use this result")
                      .arg(figure(change), figure(v.tolerance));
}

QString VerificationPanel::details(const core::Verification& v) {
    QStringList parts;
    if (v.relaxedPerTensorOriginalDb)
        parts << tr("against the original with ReLU6: per tensor %1 dB -> %2 dB")
                     .arg(db(v.perTensorOriginalDb), db(v.perTensorCandidateDb));
    parts << tr("per channel %1 dB -> %2 dB")
                 .arg(db(v.perChannelOriginalDb), db(v.perChannelCandidateDb));
    if (v.w8a8OriginalDb)
        parts << tr("W8A8 %1 dB -> %2 dB").arg(db(*v.w8a8OriginalDb), db(*v.w8a8CandidateDb));
    if (v.top1Original)
        parts << tr("top-1 agreement %1% -> %2%")
                     .arg(QString::number(100 * *v.top1Original, 'f', 0),
                          QString::number(100 * *v.top1Candidate, 'f', 0));
    if (v.relaxationMatchedChange)
        parts << tr("ReLU6 relaxed to ReLU changes the output by %1")
                     .arg(figure(v.maxRelativeChange));
    if (v.beforeSoftmax) parts << tr("values before the final softmax");
    if (v.openSize > 0)
        parts << tr("the model leaves its input size open: %1 used").arg(v.openSize);
    parts << tr("%1 s").arg(QString::number(v.seconds, 'f', 1));
    return parts.join(QStringLiteral(" · "));
}

void VerificationPanel::showVerdict(const core::Verification* v) {
    warning_ = false;
    if (!v || !v->preserved) {
        verdict_->clear();
        verdict_->hide();
        return;
    }
    const core::Int8Change change = core::int8Verdict(*v).change;
    warning_ = change == core::Int8Change::Worse;
    const char* color = warning_                             ? "#b35900"
                        : change == core::Int8Change::Better ? "#1e7b34"
                                                             : "gray";
    verdict_->setStyleSheet(QStringLiteral("color: %1").arg(QLatin1String(color)));
    verdict_->setText((warning_ ? tr("Warning: ") : QString()) +
                      QString::fromStdString(core::int8VerdictText(*v)));
    verdict_->show();
}

void VerificationPanel::show(const QString& headline, const QString& detail, const QString& color) {
    showVerdict(nullptr);
    headline_->setText(headline);
    headline_->setStyleSheet(color.isEmpty() ? QString() : QStringLiteral("color: %1").arg(color));
    detail_->setText(detail);
    detail_->setVisible(!detail.isEmpty());
    progress_->hide();
    cancel_->hide();
}

void VerificationPanel::started() {
    error_ = false;
    const QString inputs = inputsFile_.isEmpty()
                               ? tr("8 random inputs")
                               : tr("inputs from %1").arg(QFileInfo(inputsFile_).fileName());
    show(tr("Checking the network: both versions on the same %1…").arg(inputs), {}, {});
    progress_->show();
    cancel_->show();
}

void VerificationPanel::finished(const core::Verification& v) {
    error_ = !v.preserved;
    show(headline(v), details(v), v.preserved ? QString() : QStringLiteral("#c0392b"));
    showVerdict(&v);
}

void VerificationPanel::unsupported(const QString& why) {
    error_ = false;
    show(tr("The network cannot be checked at its output"), why, QStringLiteral("gray"));
}

void VerificationPanel::failed(const QString& message) {
    error_ = true;
    show(tr("The network check failed"), message, QStringLiteral("#c0392b"));
}

void VerificationPanel::cancelled() {
    error_ = false;
    show(tr("Network check cancelled"), {}, QStringLiteral("gray"));
}

void VerificationPanel::clear() {
    error_ = false;
    show(tr("After a run, the equalized network is checked against the loaded one here."), {},
         QStringLiteral("gray"));
}

void VerificationPanel::setInputsFile(const QString& path) {
    inputsFile_ = path;
    random_->setEnabled(!path.isEmpty());
    inputs_->setToolTip(path.isEmpty() ? tr("Random inputs are used") : path);
}

void VerificationPanel::chooseInputs() {
    const QString path = Prompter::instance().openFileName(
        this, tr("Inputs for the network check"), tr("HDF5 files (*.h5 *.hdf5);;All files (*)"));
    if (path.isEmpty()) return;
    setInputsFile(path);
    emit inputsChanged();
}

QString VerificationPanel::headlineText() const { return headline_->text(); }

QString VerificationPanel::verdictText() const { return verdict_->text(); }

QString VerificationPanel::detailText() const { return detail_->text(); }

}  // namespace cle::ui
