#include "ui/plots/scale_plot.h"

#include <algorithm>
#include <cmath>

#include <qcustomplot.h>

namespace cle::ui {

ScalePlot::ScalePlot(QWidget* parent) : PlotWidget(tr("Scale factors"), parent) {
    auto* p = plot();
    auto* bars = p->addGraph();
    bars->setName(tr("scale s"));
    bars->setLineStyle(QCPGraph::lsImpulse);
    bars->setPen(QPen(QColor(60, 60, 160), 1.5));
    bars->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, QColor(60, 60, 160), 3));
    auto* dead = p->addGraph();
    dead->setName(tr("dead channel (left at 1)"));
    dead->setLineStyle(QCPGraph::lsNone);
    dead->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCross, QColor(200, 30, 30), 8));
    p->xAxis->setLabel(tr("Channel"));
    setIntegerTicks(p->xAxis);
    p->yAxis->setLabel(tr("Cumulative scale s"));
    p->legend->setVisible(false);
    p->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    auto* one = new QCPItemStraightLine(p);
    one->point1->setCoords(0, 1);
    one->point2->setCoords(1, 1);
    one->setPen(QPen(QColor(120, 120, 120), 1, Qt::DotLine));
    clear(tr("No run yet"));
}

void ScalePlot::clear(const QString& placeholder) {
    order_.clear();
    scale_.clear();
    dead_.clear();
    plot()->graph(0)->data()->clear();
    plot()->graph(1)->data()->clear();
    setTitleText(tr("Scale factors"));
    setPlaceholder(placeholder);
    replotLater();
}

void ScalePlot::setData(const core::PairHistory& pair, const std::vector<int>& order) {
    if (pair.scale.empty()) {
        clear(tr("Waiting for the first sweep…"));
        return;
    }
    order_ = order;
    scale_.assign(order.size(), std::nan(""));
    dead_.assign(order.size(), false);
    QVector<double> x, y, dx, dy;
    for (size_t i = 0; i < order.size(); ++i) {
        const auto c = static_cast<size_t>(order[i]);
        if (c < pair.scale.size()) scale_[i] = pair.scale[c];
        dead_[i] = std::find(pair.deadChannels.begin(), pair.deadChannels.end(), order[i]) !=
                   pair.deadChannels.end();
        x << double(i);
        y << scale_[i];
        if (dead_[i]) {
            dx << double(i);
            dy << 1.0;
        }
    }
    plot()->graph(0)->setData(x, y, true);
    const bool dense = order.size() > 128;
    plot()->graph(0)->setScatterStyle(
        dense ? QCPScatterStyle(QCPScatterStyle::ssNone)
              : QCPScatterStyle(QCPScatterStyle::ssDisc, QColor(60, 60, 160), 3));
    plot()->graph(0)->setPen(QPen(QColor(60, 60, 160), dense ? 1.0 : 1.5));
    plot()->setNotAntialiasedElements(dense ? QCP::aePlottables : QCP::aeNone);
    plot()->graph(1)->setData(dx, dy, true);
    plot()->graph(1)->setVisible(!dx.isEmpty());
    // Impulses start at the axis' lower end; keep s = 1 in view as the reference.
    double lo = 1, hi = 1;
    for (double v : scale_) {
        if (v > 0 && std::isfinite(v)) {
            lo = std::min(lo, v);
            hi = std::max(hi, v);
        }
    }
    // A log axis only pays off when the factors span orders of magnitude.
    const bool log = hi / lo > 20;
    setLogScale(plot()->yAxis, log);
    if (log)
        plot()->yAxis->setRange(lo / 1.5, hi * 1.5);
    else
        plot()->yAxis->setRange(0, hi * 1.1);
    plot()->xAxis->setRange(-0.5, std::max<double>(double(order.size()), 1.0) - 0.5);
    setTitleText(tr("Scale factors s, %1 → %2")
                     .arg(QString::fromStdString(pair.first), QString::fromStdString(pair.second)));
    plot()->yAxis->setLabel(tr("s (output ÷ s, input × s)"));
    setPlaceholder({});
    replotLater();
}

QString ScalePlot::csv() const {
    QString out = QStringLiteral("position,channel,scale,dead\n");
    for (size_t i = 0; i < order_.size(); ++i)
        out += QStringLiteral("%1,%2,%3,%4\n")
                   .arg(i)
                   .arg(order_[i])
                   .arg(scale_[i], 0, 'g', 9)
                   .arg(dead_[i] ? 1 : 0);
    return out;
}

}  // namespace cle::ui
