#include "ui/plots/quantization_plot.h"

#include <algorithm>
#include <cmath>

#include <qcustomplot.h>
#include <QToolTip>

namespace cle::ui {

namespace {

const QColor kGain(31, 119, 180);
const QColor kLoss(200, 60, 50);
const QColor kClipped(20, 60, 110);
constexpr int kRowHeight = 17;

}  // namespace

QString formatDb(double db) {
    if (std::isnan(db)) return QStringLiteral("–");
    return std::isfinite(db) ? QString::number(db, 'f', 1) : QStringLiteral("∞");
}

double QuantizationPlot::gain(const core::LayerSqnr& l) {
    // A collapsed layer counts as 0 dB in that state, as in the summary figures.
    return (l.collapsedAfter ? 0.0 : l.perTensorAfter) -
           (l.collapsedBefore ? 0.0 : l.perTensorBefore);
}

double QuantizationPlot::clipLimitFor(const std::vector<double>& gains) {
    std::vector<double> finite;
    for (double g : gains)
        if (std::isfinite(g)) finite.push_back(std::fabs(g));
    if (finite.empty()) return 10;
    std::sort(finite.begin(), finite.end());
    const double largest = finite.back();
    const double q90 = finite[std::min(finite.size() - 1, finite.size() * 9 / 10)];
    const double limit = std::max(3.0, 1.5 * q90);
    return largest <= limit ? std::max(1.0, largest * 1.08) : limit;
}

QuantizationPlot::QuantizationPlot(QWidget* parent)
    : PlotWidget(tr("INT8 quantization: per-tensor SQNR change by equalization"), parent) {
    auto* p = plot();
    const std::pair<QString, QColor> series[] = {{tr("gain (dB)"), kGain},
                                                 {tr("loss (dB)"), kLoss},
                                                 {tr("beyond the scale (clipped)"), kClipped}};
    for (const auto& [name, color] : series) {
        auto* bars = new QCPBars(p->yAxis, p->xAxis);
        bars->setName(name);
        bars->setBrush(color);
        bars->setPen(Qt::NoPen);
        bars->setWidth(0.7);
    }
    p->yAxis->setTicker(QSharedPointer<QCPAxisTickerText>(new QCPAxisTickerText));
    p->yAxis->setRangeReversed(true);  // the first layer at the top, as in the table
    p->yAxis->grid()->setVisible(false);
    p->xAxis->setLabel(tr("per-tensor SQNR after − before (dB); +6 dB is one more bit"));
    p->xAxis->grid()->setZeroLinePen(QPen(QColor(60, 60, 60), 1));
    p->legend->setVisible(true);
    p->axisRect()->insetLayout()->take(p->legend);
    p->plotLayout()->insertRow(1);
    p->plotLayout()->addElement(1, 0, p->legend);
    p->plotLayout()->setRowStretchFactor(1, 0.001);
    p->legend->setFillOrder(QCPLegend::foColumnsFirst);
    p->legend->setWrap(3);
    p->legend->setBorderPen(Qt::NoPen);
    p->legend->setMargins(QMargins(4, 0, 4, 0));
    p->setMouseTracking(true);
    connect(p, &QCustomPlot::mouseMove, this, &QuantizationPlot::showTip);
    clear(tr("Run an equalization to see how each layer's weights survive 8-bit quantization"));
}

void QuantizationPlot::clear(const QString& placeholder) {
    layers_.clear();
    limit_ = 0;
    auto* p = plot();
    for (int i = 0; i < p->plottableCount(); ++i)
        if (auto* bars = qobject_cast<QCPBars*>(p->plottable(i))) bars->data()->clear();
    for (auto* item : labels_) p->removeItem(item);
    labels_.clear();
    qSharedPointerCast<QCPAxisTickerText>(p->yAxis->ticker())->clear();
    p->yAxis->setRange(-0.5, 0.5);
    p->xAxis->setRange(-10, 10);
    setMinimumHeight(0);
    setPlaceholder(placeholder);
    replotLater();
}

int QuantizationPlot::neededHeight() const { return int(layers_.size()) * kRowHeight + 110; }

QStringList QuantizationPlot::clippedLayers() const {
    QStringList names;
    for (const auto& l : layers_)
        if (!(std::fabs(gain(l)) <= limit_)) names << QString::fromStdString(l.name);
    return names;
}

void QuantizationPlot::setReport(const core::QuantizationReport& report) {
    clear({});
    if (report.layers.empty()) {
        clear(tr("No layer was equalized"));
        return;
    }
    layers_ = report.layers;
    std::vector<double> gains;
    for (const auto& l : layers_) gains.push_back(gain(l));
    limit_ = clipLimitFor(gains);
    QVector<double> keys[3], values[3];
    auto ticker = qSharedPointerCast<QCPAxisTickerText>(plot()->yAxis->ticker());
    auto* p = plot();
    for (size_t i = 0; i < layers_.size(); ++i) {
        const auto& l = layers_[i];
        const double g = gains[i];
        ticker->addTick(double(i),
                        QString::fromStdString(l.name) +
                            (l.collapsedByEqualization() ? tr(" (collapsed)") : QString()));
        if (std::isnan(g)) continue;
        const bool clipped = !(std::fabs(g) <= limit_);
        const int series = clipped ? 2 : (g >= 0 ? 0 : 1);
        keys[series] << double(i);
        values[series] << std::clamp(g, -limit_, limit_);
        if (!clipped) continue;
        auto* label = new QCPItemText(p);
        label->setText((g > 0 ? QStringLiteral("%1 dB ▸") : QStringLiteral("◂ %1 dB"))
                           .arg(g > 0 ? QStringLiteral("+") + formatDb(g) : formatDb(g)));
        label->position->setCoords(g > 0 ? limit_ : -limit_, double(i));
        label->setPositionAlignment((g > 0 ? Qt::AlignRight : Qt::AlignLeft) | Qt::AlignVCenter);
        label->setColor(Qt::white);
        label->setFont(QFont(font().family(), font().pointSize() - 1, QFont::Bold));
        labels_ << label;
    }
    for (int s = 0; s < 3; ++s)
        qobject_cast<QCPBars*>(p->plottable(s))->setData(keys[s], values[s], true);
    p->yAxis->setRange(-0.6, double(layers_.size()) - 0.4);
    const bool anyLoss = std::any_of(gains.begin(), gains.end(), [](double g) { return g < 0; });
    p->xAxis->setRange(anyLoss ? -limit_ * 1.05 : -limit_ * 0.05, limit_ * 1.05);
    setMinimumHeight(neededHeight());
    replotLater();
}

void QuantizationPlot::showTip(QMouseEvent* event) {
    if (layers_.empty()) return;
    const double y = plot()->yAxis->pixelToCoord(event->position().y());
    const long i = std::lround(y);
    if (i < 0 || i >= static_cast<long>(layers_.size())) {
        QToolTip::hideText();
        return;
    }
    const auto& l = layers_[static_cast<size_t>(i)];
    const QString text =
        tr("<b>%1</b> (%2 weights)<br>per tensor: %3 → %4 dB (%5 dB)<br>per channel: %6 → %7 dB")
            .arg(QString::fromStdString(l.name).toHtmlEscaped())
            .arg(l.parameters)
            .arg(formatDb(l.perTensorBefore), formatDb(l.perTensorAfter), formatDb(gain(l)),
                 formatDb(l.perChannelBefore), formatDb(l.perChannelAfter));
    QToolTip::showText(event->globalPosition().toPoint(), text, plot());
}

QString QuantizationPlot::csv() const {
    QString out = QStringLiteral(
        "layer,parameters,per_tensor_before_db,per_tensor_after_db,"
        "gain_db,per_channel_before_db,per_channel_after_db\n");
    for (const auto& l : layers_) {
        out += QStringLiteral("%1,%2,%3,%4,%5,%6,%7\n")
                   .arg(QString::fromStdString(l.name))
                   .arg(l.parameters)
                   .arg(l.perTensorBefore, 0, 'g', 9)
                   .arg(l.perTensorAfter, 0, 'g', 9)
                   .arg(l.perTensorAfter - l.perTensorBefore, 0, 'g', 9)
                   .arg(l.perChannelBefore, 0, 'g', 9)
                   .arg(l.perChannelAfter, 0, 'g', 9);
    }
    return out;
}

}  // namespace cle::ui
