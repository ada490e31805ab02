#include "ui/plots/convergence_plot.h"

#include <algorithm>
#include <cmath>

#include <qcustomplot.h>

namespace cle::ui {

ConvergencePlot::ConvergencePlot(QWidget* parent) : PlotWidget(tr("Convergence"), parent) {
    auto* p = plot();
    auto* g = p->addGraph();
    g->setName(tr("delta per sweep"));
    g->setPen(QPen(QColor(44, 130, 44), 2));
    g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, 4));
    auto* t = p->addGraph();  // legend entry only: the line itself is an item
    t->setName(tr("threshold"));
    t->setPen(QPen(QColor(200, 30, 30), 1.5, Qt::DashLine));
    thresholdLine_ = new QCPItemStraightLine(p);
    thresholdLine_->setPen(t->pen());
    marker_ = new QCPItemStraightLine(p);
    marker_->setPen(QPen(QColor(120, 120, 120), 1, Qt::DotLine));
    marker_->setVisible(false);
    setLogScale(p->yAxis, true);
    p->xAxis->setLabel(tr("Sweep"));
    setIntegerTicks(p->xAxis);
    p->yAxis->setLabel(tr("Delta Σ‖ΔW‖_F"));
    p->legend->setVisible(true);
    p->legend->setBrush(QColor(255, 255, 255, 215));
    p->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    p->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    clear(tr("No run yet"));
}

void ConvergencePlot::clear(const QString& placeholder) {
    deltas_.clear();
    plot()->graph(0)->data()->clear();
    thresholdLine_->setVisible(false);
    marker_->setVisible(false);
    setTitleText(tr("Convergence"));
    setPlaceholder(placeholder);
    replotLater();
}

void ConvergencePlot::setData(const std::vector<float>& deltas, double threshold) {
    deltas_ = deltas;
    threshold_ = threshold;
    QVector<double> x, y;
    double lo = threshold > 0 ? threshold : 1, hi = lo;
    for (size_t i = 0; i < deltas.size(); ++i) {
        x << double(i + 1);
        y << double(deltas[i]);
        if (deltas[i] > 0 && std::isfinite(deltas[i])) {
            lo = std::min(lo, double(deltas[i]));
            hi = std::max(hi, double(deltas[i]));
        }
    }
    plot()->graph(0)->setData(x, y, true);
    // Markers only while they can be told apart; thousands of them would slow every replot.
    plot()->graph(0)->setScatterStyle(deltas.size() <= 60
                                          ? QCPScatterStyle(QCPScatterStyle::ssDisc, 4)
                                          : QCPScatterStyle(QCPScatterStyle::ssNone));
    thresholdLine_->point1->setCoords(0, threshold);
    thresholdLine_->point2->setCoords(1, threshold);
    thresholdLine_->setVisible(threshold > 0);
    plot()->xAxis->setRange(0.5, std::max<double>(double(deltas.size()), 1.0) + 0.5);
    plot()->yAxis->setRange(lo / 3, hi * 3);
    setTitleText(deltas.empty()
                     ? tr("Convergence")
                     : tr("Convergence: %n sweep(s), last delta %1", nullptr, int(deltas.size()))
                           .arg(QString::number(double(deltas.back()), 'g', 3)));
    plot()->graph(1)->setName(tr("threshold %1").arg(QString::number(threshold, 'g', 3)));
    setPlaceholder(deltas.empty() ? tr("Waiting for the first sweep…") : QString());
    replotLater();
}

void ConvergencePlot::setMarker(int k) {
    marker_->point1->setCoords(k, 1);
    marker_->point2->setCoords(k, 2);
    marker_->setVisible(k > 0 && !deltas_.empty());
    replotLater();
}

QString ConvergencePlot::csv() const {
    QString out = QStringLiteral("sweep,delta,threshold\n");
    for (size_t i = 0; i < deltas_.size(); ++i)
        out += QStringLiteral("%1,%2,%3\n")
                   .arg(i + 1)
                   .arg(double(deltas_[i]), 0, 'g', 9)
                   .arg(threshold_, 0, 'g', 9);
    return out;
}

}  // namespace cle::ui
