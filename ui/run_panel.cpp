#include "ui/run_panel.h"

#include <algorithm>

#include <QAction>
#include <QCheckBox>
#include <QDoubleValidator>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QSettings>
#include <QSpinBox>
#include <QStringList>
#include <QToolButton>

namespace cle::ui {

namespace {

QString num(double v) { return QString::number(v, 'g', 3); }

QString channelList(const std::vector<int>& channels) {
    QStringList parts;
    for (size_t i = 0; i < channels.size() && i < 8; ++i) parts << QString::number(channels[i]);
    if (channels.size() > 8) parts << QObject::tr("… (%1 in all)").arg(channels.size());
    return parts.join(QStringLiteral(", "));
}

QToolButton* buttonFor(QAction* action, QWidget* parent) {
    auto* b = new QToolButton(parent);
    b->setDefaultAction(action);
    b->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    return b;
}

}  // namespace

int stalledSweeps(const std::vector<float>& deltas) {
    constexpr size_t kWindow = 40;
    if (deltas.size() < kWindow) return 0;
    // The sweeps at the end whose delta stays within a factor 1.5 of the final level.
    std::vector<float> tail(deltas.end() - 10, deltas.end());
    std::nth_element(tail.begin(), tail.begin() + 5, tail.end());
    const double level = tail[5];
    if (!(level > 0)) return 0;
    size_t n = 0;
    while (n < deltas.size()) {
        const double d = deltas[deltas.size() - 1 - n];
        if (d > level * 1.5 || d < level / 1.5) break;
        ++n;
    }
    if (n < kWindow) return 0;
    // Still falling (slowly but steadily) is not stalled: the later half must not be lower.
    double first = 0, second = 0;
    for (size_t i = 0; i < n / 2; ++i) {
        second += deltas[deltas.size() - 1 - i];
        first += deltas[deltas.size() - n + i];
    }
    return second >= 0.99 * first ? static_cast<int>(n) : 0;
}

namespace {

// Dead channels, constant inputs and amplified biases of one pair, as warnings.
void pairMessages(const core::PairHistory& p, std::vector<Message>& out) {
    const QString pair = QStringLiteral("%1 → %2").arg(QString::fromStdString(p.first),
                                                       QString::fromStdString(p.second));
    if (!p.deadChannels.empty()) {
        out.push_back({Message::Warning,
                       QObject::tr("Dead channels in %1: output channel(s) %2 of %3 have zero "
                                   "range and were left unscaled.")
                           .arg(pair, channelList(p.deadChannels), QString::fromStdString(p.first)),
                       {}});
    }
    if (!p.constantInputChannels.empty()) {
        out.push_back(
            {Message::Warning,
             QObject::tr("Constant inputs in %1: input channel(s) %2 of %3 have zero "
                         "range and were left unscaled.")
                 .arg(pair, channelList(p.constantInputChannels), QString::fromStdString(p.second)),
             {}});
    }
    if (!p.amplifiedBias.empty()) {
        std::vector<int> channels;
        double largest = 0;
        for (const auto& a : p.amplifiedBias) {
            channels.push_back(a.channel);
            largest = std::max(largest, a.amplification);
        }
        out.push_back({Message::Warning,
                       QObject::tr("Hazard in %1: the bias of output channel(s) %2 of %3 grew "
                                   "up to %4 times; their activations dwarf the others under "
                                   "per-tensor INT8.")
                           .arg(pair, channelList(channels), QString::fromStdString(p.first))
                           .arg(largest, 0, 'g', 3),
                       {}});
    }
}

}  // namespace

std::vector<Message> outcomeMessages(const core::Summary& s) {
    std::vector<Message> out;
    if (s.converged) {
        out.push_back({Message::Information,
                       QObject::tr("Converged after %n sweep(s): last delta %1 < threshold %2.",
                                   nullptr, s.sweeps)
                           .arg(num(s.lastDelta()), num(s.threshold)),
                       {}});
    } else if (const int flat = stalledSweeps(s.deltas)) {
        out.push_back({Message::Warning,
                       QObject::tr("Did not converge: the delta stalled at about %1 for the last "
                                   "%2 of %n sweep(s), above the threshold %3. The float32 sweep "
                                   "cannot get lower, so more sweeps will not help: raise the "
                                   "threshold above %1.",
                                   nullptr, s.sweeps)
                           .arg(num(s.lastDelta()))
                           .arg(flat)
                           .arg(num(s.threshold)),
                       {}});
    } else {
        out.push_back({Message::Warning,
                       QObject::tr("Did not converge: stopped after %n sweep(s) with delta %1, "
                                   "still ≥ threshold %2. Raise the sweep limit or the threshold.",
                                   nullptr, s.sweeps)
                           .arg(num(s.lastDelta()), num(s.threshold)),
                       {}});
    }
    for (const auto& p : s.pairs) pairMessages(p, out);
    return out;
}

std::vector<Message> absorptionMessages(const std::vector<core::AbsorbedBias>& absorbed) {
    if (absorbed.empty()) return {};
    int channels = 0;
    Message m{Message::Information, {}, {}};
    for (const auto& a : absorbed) {
        const QString pair = QStringLiteral("%1 → %2").arg(QString::fromStdString(a.first),
                                                           QString::fromStdString(a.second));
        if (!a.skipped.empty()) {
            m.details
                << QObject::tr("%1: skipped, %2").arg(pair, QString::fromStdString(a.skipped));
            continue;
        }
        channels += a.channels;
        m.details << QObject::tr("%1: %2 of %3 channels, largest %4")
                         .arg(pair)
                         .arg(a.channels)
                         .arg(a.absorbed.size())
                         .arg(num(a.largest));
    }
    m.text = QObject::tr(
        "High-bias absorption moved the bias of %n channel(s) into the next "
        "layer (exact only where the pre-activation stays above it and the next "
        "layer pads no zeros).",
        nullptr, channels);
    return {m};
}

std::vector<Message> planMessages(const core::RunPlan& plan) {
    std::vector<Message> out;
    if (!plan.batchNorms.empty()) {
        Message m{Message::Information,
                  QObject::tr("Folded %n batch norm(s) into their layers (now identities in the "
                              "export).",
                              nullptr, static_cast<int>(plan.batchNorms.size())),
                  {}};
        for (const auto& bn : plan.batchNorms)
            m.details << QStringLiteral("%1 into %2")
                             .arg(QString::fromStdString(bn.name),
                                  QString::fromStdString(bn.after));
        out.push_back(m);
    }
    if (!plan.relu6.empty()) {
        QStringList names;
        for (const auto& r : plan.relu6) names << QString::fromStdString(r);
        const QString which = names.size() <= 3
                                  ? names.join(QStringLiteral(", "))
                                  : QObject::tr("%n activation(s)", nullptr, int(names.size()));
        out.push_back({Message::Information,
                       QObject::tr("ReLU6 → ReLU in %1 on export.").arg(which),
                       names.size() <= 3 ? QStringList{} : names});
    }
    if (plan.guessed)
        out.push_back({Message::Warning,
                       QObject::tr("The file has no layer graph, so what lies between the layers "
                                   "was guessed from their names."),
                       {}});
    return out;
}

QString describeRelu6Costs(const std::vector<core::Relu6Cost>& costs, QString* details) {
    if (costs.empty()) return {};
    const auto pct = [](double f) { return QString::number(100.0 * f, 'g', 2) + QLatin1Char('%'); };
    const core::Relu6Cost* worst = nullptr;
    QStringList lines;
    for (const auto& c : costs) {
        const QString name = QString::fromStdString(c.layer);
        if (!c.known()) {
            lines << QObject::tr("%1: no batch norm before it to estimate from").arg(name);
            continue;
        }
        lines << QObject::tr("%1: mean %2, worst %3 (channel %4) of inputs above %5, from %6")
                     .arg(name, pct(c.mean), pct(c.worst))
                     .arg(c.worstChannel)
                     .arg(c.level)
                     .arg(QString::fromStdString(c.batchNorm));
        if (!worst || c.worst > worst->worst) worst = &c;
    }
    if (details) *details = lines.join('\n');
    QString text = QObject::tr("%n ReLU6 relaxed", nullptr, static_cast<int>(costs.size()));
    if (worst)
        text += QObject::tr(" · ≤%1 of inputs above %2").arg(pct(worst->worst)).arg(worst->level);
    return text;
}

QString collapseWarning(const core::QuantizationReport& q) {
    if (q.collapsedLayers.empty()) return {};
    QStringList layers;
    for (const auto& l : q.layers) {
        if (!l.collapsedByEqualization()) continue;
        layers << QObject::tr("%1 (%2% of weights round to zero, %n channel(s) all zero)", nullptr,
                              static_cast<int>(l.zeroedChannelsAfter))
                      .arg(QString::fromStdString(l.name))
                      .arg(100 * l.zeroFractionAfter, 0, 'f', 0);
    }
    return QObject::tr("WARNING: equalization collapsed %n layer(s) under INT8: ", nullptr,
                       static_cast<int>(layers.size())) +
           layers.join(QStringLiteral(", ")) +
           QObject::tr(". They count as 0 dB in the per-tensor figures. ");
}

Message collapseMessage(const core::QuantizationReport& q) {
    Message m{Message::Warning, {}, {}};
    for (const auto& l : q.layers) {
        if (!l.collapsedByEqualization()) continue;
        m.details << QObject::tr("%1: %2% of weights round to zero, %n channel(s) all zero",
                                 nullptr, static_cast<int>(l.zeroedChannelsAfter))
                         .arg(QString::fromStdString(l.name))
                         .arg(100 * l.zeroFractionAfter, 0, 'f', 0);
    }
    if (m.details.isEmpty()) return m;
    m.text = QObject::tr(
                 "WARNING: equalization collapsed %n layer(s) under INT8 (%1); they count "
                 "as 0 dB in the per-tensor figures.",
                 nullptr, static_cast<int>(m.details.size()))
                 .arg(m.details.size() == 1 ? m.details.front() : QObject::tr("see below"));
    return m;
}

QString describeQuantization(const core::QuantizationReport& q) {
    if (q.layers.empty()) return {};
    const auto db = [](double v) { return QString::number(v, 'f', 1); };
    return QObject::tr(
               "Per-tensor INT8 SQNR: median %1 → %2 dB (%3%4 dB), worst %5 → %6 dB. "
               "See the Quantization tab.")
        .arg(db(q.perTensorBefore.median), db(q.perTensorAfter.median),
             q.perTensorAfter.median >= q.perTensorBefore.median ? QStringLiteral("+") : QString(),
             db(q.perTensorAfter.median - q.perTensorBefore.median), db(q.perTensorBefore.worst),
             db(q.perTensorAfter.worst));
}

RunPanel::RunPanel(QAction* run, QAction* cancel, QAction* reset, QWidget* parent)
    : QWidget(parent),
      threshold_(new QLineEdit(this)),
      maxSweeps_(new QSpinBox(this)),
      continue_(new QCheckBox(tr("Continue"), this)),
      allowRelu6_(new QCheckBox(tr("Allow ReLU6"), this)),
      absorbBias_(new QCheckBox(tr("Absorb high biases"), this)),
      relu6Cost_(new QLabel(this)),
      progress_(new QProgressBar(this)),
      status_(new QLabel(this)),
      messages_(new MessagePanel(this)) {
    auto* validator = new QDoubleValidator(0.0, 1e6, 20, threshold_);
    validator->setNotation(QDoubleValidator::ScientificNotation);
    validator->setLocale(QLocale::c());
    threshold_->setValidator(validator);
    threshold_->setMaximumWidth(110);
    threshold_->setMinimumWidth(
        threshold_->fontMetrics().horizontalAdvance(QStringLiteral("0.00001e-05")));
    threshold_->setToolTip(
        tr("A run converges when the summed change of the weights in one "
           "sweep (Frobenius norm) falls below this value"));
    maxSweeps_->setRange(1, 10000000);
    maxSweeps_->setMaximumWidth(110);
    maxSweeps_->setToolTip(tr("A run that has not converged after this many sweeps stops"));
    continue_->setToolTip(
        tr("Continue from the result: start the next run from the last "
           "result instead of the loaded weights"));
    continue_->setEnabled(false);
    allowRelu6_->setToolTip(
        tr("Also pair layers across a ReLU6 (or a ReLU with max_value). Equalizing changes what "
           "the clipping sees, so the exported file turns those activations into plain ReLU."));
    connect(allowRelu6_, &QCheckBox::toggled, this, [this](bool allow) {
        QSettings().setValue(QStringLiteral("run/allowRelu6"), allow);
        emit allowRelu6Changed(allow);
    });
    absorbBias_->setToolTip(
        tr("After equalizing, move max(0, beta - 3|gamma|) of each channel's bias past a batch "
           "norm and ReLU into the next layer's bias (DFQ, section 4.2). Exact only where the "
           "pre-activation stays above that amount and where the next layer pads no zeros at "
           "the borders: the network check shows what it changed."));
    connect(absorbBias_, &QCheckBox::toggled, this,
            [](bool on) { QSettings().setValue(QStringLiteral("run/absorbBias"), on); });
    progress_->setTextVisible(true);
    progress_->setFormat(tr("idle"));
    progress_->setValue(0);
    status_->setFixedWidth(status_->fontMetrics().horizontalAdvance(
        tr("Sweep 000000 · delta 0.000e-00 (threshold 0.000e-00)")));
    progress_->setMaximumWidth(220);

    auto* settings = new QHBoxLayout(this);
    settings->setContentsMargins(0, 0, 0, 0);
    settings->addWidget(new QLabel(tr("Threshold:"), this));
    settings->addWidget(threshold_);
    settings->addSpacing(8);
    settings->addWidget(new QLabel(tr("Max sweeps:"), this));
    settings->addWidget(maxSweeps_);
    settings->addSpacing(8);
    settings->addWidget(continue_);
    settings->addWidget(allowRelu6_);
    settings->addWidget(relu6Cost_);
    relu6Cost_->hide();
    settings->addWidget(absorbBias_);
    settings->addSpacing(8);
    settings->addWidget(buttonFor(run, this));
    settings->addWidget(buttonFor(cancel, this));
    settings->addWidget(buttonFor(reset, this));
    settings->addStretch();
    loadSettings();
}

bool RunPanel::options(core::EqualizeOptions& options, QString* error) const {
    bool ok = false;
    const double t = QLocale::c().toDouble(threshold_->text().trimmed(), &ok);
    if (!ok || !(t > 0)) {
        if (error) *error = tr("The threshold must be a positive number, such as 1e-4.");
        return false;
    }
    options.threshold = t;
    options.maxSweeps = maxSweeps_->value();
    return true;
}

void RunPanel::setOptions(double threshold, int maxSweeps) {
    threshold_->setText(QString::number(threshold, 'g', 6));
    maxSweeps_->setValue(maxSweeps);
}

bool RunPanel::allowRelu6() const { return allowRelu6_->isChecked(); }

bool RunPanel::absorbBias() const { return absorbBias_->isChecked(); }

bool RunPanel::continueFromResult() const {
    return continue_->isEnabled() && continue_->isChecked();
}

QString RunPanel::outcomeText() const { return messages_->text(); }

void RunPanel::runStarted(int maxSweeps, double threshold) {
    runThreshold_ = threshold;
    clearOutcome();
    progress_->setRange(0, maxSweeps);
    progress_->setValue(0);
    progress_->setFormat(tr("sweep %v of at most %m"));
    status_->setText(tr("Starting…"));
}

void RunPanel::progressed(int sweep, float delta) {
    progress_->setValue(std::min(sweep, progress_->maximum()));
    status_->setText(delta > 0 ? tr("Sweep %1 · delta %2 (threshold %3)")
                                     .arg(sweep)
                                     .arg(num(delta), num(runThreshold_))
                               : tr("Sweep %1 …").arg(sweep));
}

void RunPanel::finished(const core::Summary& summary, double seconds, const core::RunPlan& plan,
                        const core::QuantizationReport* quantization,
                        const std::vector<core::Relu6Cost>& relu6,
                        const std::vector<core::AbsorbedBias>& absorbed) {
    QString details;
    relu6Cost_->setText(describeRelu6Costs(relu6, &details));
    relu6Cost_->setToolTip(tr("Expected share of each relaxed ReLU6's inputs above 6, estimated "
                              "from the batch norm before it (its outputs as N(beta, gamma²)). "
                              "Those values are no longer clipped in the exported model.\n") +
                           details);
    relu6Cost_->setVisible(!relu6.empty());
    progress_->setValue(std::min(summary.sweeps, progress_->maximum()));
    progress_->setFormat(tr("%n sweep(s)", nullptr, summary.sweeps));
    const QString time = seconds < 1 ? tr("%1 ms").arg(qRound(seconds * 1000))
                                     : tr("%1 s").arg(QString::number(seconds, 'f', 2));
    status_->setText(tr("Finished in %1 · last delta %2").arg(time, num(summary.lastDelta())));
    std::vector<Message> messages = outcomeMessages(summary);
    const auto planned = planMessages(plan);
    messages.insert(messages.end(), planned.begin(), planned.end());
    const auto absorption = absorptionMessages(absorbed);
    messages.insert(messages.end(), absorption.begin(), absorption.end());
    if (quantization) {
        if (const Message c = collapseMessage(*quantization); !c.text.isEmpty())
            messages.insert(messages.begin(), c);
        if (const QString q = describeQuantization(*quantization); !q.isEmpty())
            messages.push_back({Message::Information, q, {}});
    }
    const QString headline =
        summary.converged
            ? tr("Converged after %n sweep(s) in %1", nullptr, summary.sweeps).arg(time)
            : tr("Did not converge within %n sweep(s)", nullptr, summary.sweeps);
    messages_->setMessages(headline, messages);
}

void RunPanel::cancelled(int sweepsDone) {
    progress_->setFormat(tr("cancelled"));
    status_->setText(tr("Cancelled"));
    const QString text =
        tr("Cancelled after %n sweep(s); the loaded weights are unchanged.", nullptr, sweepsDone);
    messages_->setMessages(tr("Cancelled"), {{Message::Warning, text, {}}});
}

void RunPanel::failed(const QString& message) {
    progress_->setFormat(tr("failed"));
    status_->setText(tr("Failed"));
    messages_->setMessages(tr("The run failed"), {{Message::Error, message, {}}});
}

QString RunPanel::relu6CostText() const {
    return relu6Cost_->isHidden() ? QString() : relu6Cost_->text();
}

void RunPanel::clearOutcome() {
    relu6Cost_->clear();
    relu6Cost_->hide();
    messages_->clear();
    progress_->setFormat(tr("idle"));
    progress_->setValue(0);
    status_->clear();
}

void RunPanel::setResultAvailable(bool available) { continue_->setEnabled(available); }

void RunPanel::loadSettings() {
    QSettings s;
    setOptions(s.value(QStringLiteral("run/threshold"), 1e-4).toDouble(),
               s.value(QStringLiteral("run/maxSweeps"), 1000).toInt());
    allowRelu6_->setChecked(s.value(QStringLiteral("run/allowRelu6"), false).toBool());
    absorbBias_->setChecked(s.value(QStringLiteral("run/absorbBias"), false).toBool());
}

void RunPanel::saveSettings() const {
    core::EqualizeOptions o;
    if (!options(o, nullptr)) return;
    QSettings s;
    s.setValue(QStringLiteral("run/threshold"), o.threshold);
    s.setValue(QStringLiteral("run/maxSweeps"), o.maxSweeps);
}

}  // namespace cle::ui
