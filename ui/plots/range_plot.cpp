#include "ui/plots/range_plot.h"

#include <cmath>

#include <qcustomplot.h>
#include <QToolTip>

namespace cle::ui {

namespace {

const QColor kOut(31, 119, 180);
const QColor kIn(230, 120, 20);

std::vector<double> pick(const std::vector<float>& v, const std::vector<int>& order) {
    std::vector<double> out(order.size(), std::nan(""));
    for (size_t i = 0; i < order.size(); ++i) {
        const auto c = static_cast<size_t>(order[i]);
        if (c < v.size()) out[i] = v[c];
    }
    return out;
}

void setGraph(QCPGraph* g, const std::vector<double>& y) {
    QVector<double> xs(static_cast<int>(y.size())), ys(static_cast<int>(y.size()));
    for (size_t i = 0; i < y.size(); ++i) {
        xs[static_cast<int>(i)] = static_cast<double>(i);
        ys[static_cast<int>(i)] = y[i];
    }
    g->setData(xs, ys, true);
}

QString value(double v) { return QString::number(v, 'g', 5); }

}  // namespace

RangePlot::RangePlot(QWidget* parent) : PlotWidget(tr("Channel ranges of the pair"), parent) {
    auto* p = plot();
    for (int i = 0; i < 4; ++i) p->addGraph();  // pens are set with the data
    p->xAxis->setLabel(tr("Channel"));
    setIntegerTicks(p->xAxis);
    p->yAxis->setLabel(tr("Range (max − min)"));
    // The legend goes under the axes, in two columns, so it never hides a channel.
    p->legend->setVisible(true);
    p->axisRect()->insetLayout()->take(p->legend);
    p->plotLayout()->addElement(2, 0, p->legend);
    p->plotLayout()->setRowStretchFactor(2, 0.001);
    p->legend->setFillOrder(QCPLegend::foColumnsFirst);
    p->legend->setWrap(2);
    p->legend->setBorderPen(Qt::NoPen);
    p->legend->setMargins(QMargins(4, 0, 4, 2));
    p->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    p->setMouseTracking(true);
    connect(p, &QCustomPlot::mouseMove, this, &RangePlot::showTip);
    clear(tr("Run an equalization to see the channel ranges of each pair"));
}

void RangePlot::clear(const QString& placeholder) {
    first_.clear();
    second_.clear();
    order_.clear();
    beforeOut_.clear();
    beforeIn_.clear();
    afterOut_.clear();
    afterIn_.clear();
    scale_.clear();
    for (int i = 0; i < plot()->graphCount(); ++i) {
        plot()->graph(i)->data()->clear();
        plot()->graph(i)->removeFromLegend();
    }
    // An empty legend in the layout squeezes the axes (and clips the hint) into a corner: it
    // leaves the layout while there is nothing to name.
    if (plot()->plotLayout()->hasElement(2, 0)) {
        plot()->plotLayout()->take(plot()->legend);
        plot()->plotLayout()->simplify();
    }
    setTitleText(tr("Channel ranges of the pair"));
    setPlaceholder(placeholder);
    replotLater();
}

void RangePlot::setData(const core::PairHistory& pair, int index, const std::vector<int>& order,
                        int sweep, int lastSweep) {
    if (pair.states.empty()) {
        clear(tr("Waiting for the first sweep…"));
        return;
    }
    const int lastIndex = static_cast<int>(pair.states.size()) - 1;
    index = std::clamp(index, 0, lastIndex);
    const int k = sweep >= 0 ? sweep : index;
    if (lastSweep < 0) lastSweep = lastIndex;
    k_ = k;
    first_ = pair.first;
    second_ = pair.second;
    order_ = order;
    const auto& before = pair.states.front();
    const auto& after = pair.states[static_cast<size_t>(index)];
    beforeOut_ = pick(before.out, order);
    beforeIn_ = pick(before.in, order);
    afterOut_ = pick(after.out, order);
    afterIn_ = pick(after.in, order);
    scale_ = pick(pair.scale, order);

    const QString a = QString::fromStdString(pair.first);
    const QString b = QString::fromStdString(pair.second);
    const QString when = k == 0 ? tr("before (k = 0)") : tr("after sweep %1").arg(k);
    auto* p = plot();
    const std::vector<double>* series[] = {&beforeOut_, &beforeIn_, &afterOut_, &afterIn_};
    const QString names[] = {tr("%1 output · before").arg(a), tr("%1 input · before").arg(b),
                             tr("%1 output · %2").arg(a, when), tr("%1 input · %2").arg(b, when)};
    const bool dots = order.size() <= 64;
    // Dense, jagged lines are expensive to stroke wide, dashed or antialiased (a replot must stay
    // well under the GUI thread's budget during a run): draw them thin and solid instead.
    const bool dense = order.size() > 128;
    p->setNotAntialiasedElements(dense ? QCP::aePlottables : QCP::aeNone);
    for (int i = 0; i < 4; ++i) {
        auto* g = p->graph(i);
        const QColor base = i % 2 == 0 ? kOut : kIn;
        const bool before = i < 2;
        QColor color = before ? base.lighter(140) : base;
        if (dense && before) color.setAlpha(170);
        double width = dense ? 1.0 : (before ? 1.2 : 1.6);
        // After a sweep the two "after" lines nearly coincide: the output line is drawn wide and
        // translucent under the input line so both stay visible. Stroking a wide, jagged line of
        // hundreds of points costs tens of milliseconds, so a live run draws it thin.
        if (i == 2) {
            color.setAlpha(150);
            width = dense ? (live_ ? 1.0 : 3.0) : 5.0;
        }
        g->setPen(QPen(color, width, before && !dense ? Qt::DashLine : Qt::SolidLine));
        setGraph(g, *series[i]);
        g->setName(names[i]);
        g->addToLegend();
        g->setScatterStyle(dots && i == 3 ? QCPScatterStyle(QCPScatterStyle::ssDisc, 5)
                                          : QCPScatterStyle(QCPScatterStyle::ssNone));
    }
    if (!p->plotLayout()->hasElement(2, 0)) {
        p->plotLayout()->addElement(2, 0, p->legend);
        p->plotLayout()->setRowStretchFactor(2, 0.001);
    }
    setTitleText(tr("%1 → %2: channel ranges, before and %3 of %4")
                     .arg(a, b, k == 0 ? tr("at the start") : tr("after sweep %1").arg(k))
                     .arg(lastSweep));
    setPlaceholder({});
    p->xAxis->setRange(-0.5, std::max<double>(static_cast<double>(order.size()), 1.0) - 0.5);
    p->yAxis->rescale();
    if (!logY_) p->yAxis->setRangeLower(0);
    // Headroom above the highest peak, so neither it nor its marker touches the frame.
    if (logY_)
        p->yAxis->setRange(p->yAxis->range().lower / 1.5, p->yAxis->range().upper * 1.5);
    else
        p->yAxis->setRange(0, p->yAxis->range().upper * 1.1);
    replotLater();
}

void RangePlot::setLogY(bool log) {
    logY_ = log;
    setLogScale(plot()->yAxis, log);
    plot()->yAxis->rescale();
    replotLater();
}

void RangePlot::showTip(QMouseEvent* event) {
    if (order_.empty()) return;
    const double x = plot()->xAxis->pixelToCoord(event->position().x());
    const long i = std::lround(x);
    if (i < 0 || i >= static_cast<long>(order_.size()) || std::abs(x - double(i)) > 0.5) {
        QToolTip::hideText();
        return;
    }
    const auto u = static_cast<size_t>(i);
    QString text = tr("<b>Channel %1</b><br>").arg(order_[u]);
    text += tr("%1 output: %2 → %3<br>")
                .arg(QString::fromStdString(first_), value(beforeOut_[u]), value(afterOut_[u]));
    text += tr("%1 input: %2 → %3<br>")
                .arg(QString::fromStdString(second_), value(beforeIn_[u]), value(afterIn_[u]));
    text += tr("(before → after sweep %1)").arg(k_);
    if (u < scale_.size() && !std::isnan(scale_[u]))
        text += tr("<br>cumulative scale s = %1").arg(value(scale_[u]));
    QToolTip::showText(event->globalPosition().toPoint(), text, plot());
}

QString RangePlot::csv() const {
    QString out = QStringLiteral(
                      "position,channel,first_out_before,second_in_before,"
                      "first_out_after_sweep_%1,second_in_after_sweep_%1,scale\n")
                      .arg(k_);
    for (size_t i = 0; i < order_.size(); ++i) {
        out += QStringLiteral("%1,%2,%3,%4,%5,%6,%7\n")
                   .arg(i)
                   .arg(order_[i])
                   .arg(beforeOut_[i], 0, 'g', 9)
                   .arg(beforeIn_[i], 0, 'g', 9)
                   .arg(afterOut_[i], 0, 'g', 9)
                   .arg(afterIn_[i], 0, 'g', 9)
                   .arg(i < scale_.size() ? scale_[i] : std::nan(""), 0, 'g', 9);
    }
    return out;
}

}  // namespace cle::ui
