#include "ui/plots/quantization_plot.h"

#include <cmath>

#include <QToolTip>
#include <qcustomplot.h>

namespace cle::ui {

namespace {

const QColor kBefore(150, 160, 175);
const QColor kAfter(31, 119, 180);
const QColor kChannel(20, 20, 20);

/// Infinite SQNR (exact quantization) is drawn just above the tallest finite bar.
double drawable(double db, double cap) { return std::isfinite(db) ? db : cap; }

QPainterPath dash(double halfWidth)
{
    QPainterPath path;
    path.moveTo(-halfWidth, 0);
    path.lineTo(halfWidth, 0);
    return path;
}

}  // namespace

QString formatDb(double db)
{
    if (std::isnan(db)) return QStringLiteral("–");
    return std::isfinite(db) ? QString::number(db, 'f', 1) : QStringLiteral("∞");
}

QuantizationPlot::QuantizationPlot(QWidget* parent)
    : PlotWidget(tr("INT8 quantization of the weights"), parent)
{
    auto* p = plot();
    auto* group = new QCPBarsGroup(p);
    group->setSpacing(1);
    auto* before = new QCPBars(p->xAxis, p->yAxis);
    before->setName(tr("per tensor, before"));
    before->setBrush(kBefore);
    before->setPen(Qt::NoPen);
    auto* after = new QCPBars(p->xAxis, p->yAxis);
    after->setName(tr("per tensor, after equalization"));
    after->setBrush(kAfter);
    after->setPen(Qt::NoPen);
    for (auto* b : {before, after}) {
        b->setWidth(0.38);
        b->setBarsGroup(group);
    }
    auto* channel = p->addGraph();
    channel->setName(tr("per channel, after (for comparison)"));
    channel->setLineStyle(QCPGraph::lsNone);
    channel->setPen(QPen(kChannel, 2));
    channel->setScatterStyle(QCPScatterStyle(dash(7), QPen(kChannel, 2.5), Qt::NoBrush, 14));
    p->xAxis->setTicker(QSharedPointer<QCPAxisTickerText>(new QCPAxisTickerText));
    p->xAxis->grid()->setVisible(false);
    p->yAxis->setLabel(tr("SQNR (dB), higher is better"));
    // The legend goes in one row between the title and the axes, so it never hides a bar.
    p->legend->setVisible(true);
    p->axisRect()->insetLayout()->take(p->legend);
    p->plotLayout()->insertRow(1);
    p->plotLayout()->addElement(1, 0, p->legend);
    p->plotLayout()->setRowStretchFactor(1, 0.001);
    p->legend->setFillOrder(QCPLegend::foColumnsFirst);
    p->legend->setWrap(3);
    p->legend->setBorderPen(Qt::NoPen);
    p->legend->setMargins(QMargins(4, 0, 4, 0));
    p->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    p->axisRect()->setRangeDrag(Qt::Horizontal);
    p->axisRect()->setRangeZoom(Qt::Horizontal);
    p->setMouseTracking(true);
    connect(p, &QCustomPlot::mouseMove, this, &QuantizationPlot::showTip);
    clear(tr("Run an equalization to see how each layer's weights survive 8-bit quantization"));
}

void QuantizationPlot::clear(const QString& placeholder)
{
    layers_.clear();
    auto* p = plot();
    for (int i = 0; i < p->plottableCount(); ++i) {
        if (auto* bars = qobject_cast<QCPBars*>(p->plottable(i))) bars->data()->clear();
    }
    p->graph(0)->data()->clear();
    qSharedPointerCast<QCPAxisTickerText>(p->xAxis->ticker())->clear();
    p->xAxis->setRange(0, 1);
    p->yAxis->setRange(0, 50);
    setPlaceholder(placeholder);
    replotLater();
}

void QuantizationPlot::setReport(const core::QuantizationReport& report)
{
    if (report.layers.empty()) {
        clear(tr("No layer was equalized"));
        return;
    }
    layers_ = report.layers;
    double top = 1;
    for (const auto& l : layers_)
        for (double v : {l.perTensorBefore, l.perTensorAfter, l.perChannelAfter})
            if (std::isfinite(v)) top = std::max(top, v);
    const double cap = top * 1.08;
    QVector<double> x, before, after, channel;
    auto ticker = qSharedPointerCast<QCPAxisTickerText>(plot()->xAxis->ticker());
    ticker->clear();
    for (size_t i = 0; i < layers_.size(); ++i) {
        const auto& l = layers_[i];
        x << double(i);
        before << drawable(l.perTensorBefore, cap);
        after << drawable(l.perTensorAfter, cap);
        channel << drawable(l.perChannelAfter, cap);
        ticker->addTick(double(i), QString::fromStdString(l.name) +
                                       (l.collapsedByEqualization() ? tr(" (collapsed)") : QString()));
    }
    auto* p = plot();
    qobject_cast<QCPBars*>(p->plottable(0))->setData(x, before, true);
    qobject_cast<QCPBars*>(p->plottable(1))->setData(x, after, true);
    p->graph(0)->setData(x, channel, true);
    p->xAxis->setTickLabelRotation(layers_.size() > 6 ? 40 : 0);
    p->xAxis->setRange(-0.6, double(layers_.size()) - 0.4);
    p->yAxis->setRange(0, top * 1.1);
    setPlaceholder({});
    replotLater();
}

void QuantizationPlot::showTip(QMouseEvent* event)
{
    if (layers_.empty()) return;
    const double x = plot()->xAxis->pixelToCoord(event->position().x());
    const long i = std::lround(x);
    if (i < 0 || i >= static_cast<long>(layers_.size())) {
        QToolTip::hideText();
        return;
    }
    const auto& l = layers_[static_cast<size_t>(i)];
    const QString text =
        tr("<b>%1</b> (%2 weights)<br>per tensor: %3 → %4 dB<br>per channel: %5 → %6 dB")
            .arg(QString::fromStdString(l.name).toHtmlEscaped())
            .arg(l.parameters)
            .arg(formatDb(l.perTensorBefore), formatDb(l.perTensorAfter),
                 formatDb(l.perChannelBefore), formatDb(l.perChannelAfter));
    QToolTip::showText(event->globalPosition().toPoint(), text, plot());
}

QString QuantizationPlot::csv() const
{
    QString out = QStringLiteral("layer,parameters,per_tensor_before_db,per_tensor_after_db,"
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
