#include "ui/plots/channel_stats_plot.h"

#include <qcustomplot.h>

#include "ui/layer_table_model.h"

namespace cle::ui {

namespace {
QVector<double> toVector(const std::vector<float>& v) {
    return QVector<double>(v.begin(), v.end());
}
}  // namespace

ChannelStatsPlot::ChannelStatsPlot(QWidget* parent) : PlotWidget(tr("Layer channels"), parent) {
    auto* p = plot();
    const QColor colors[] = {QColor(31, 119, 180), QColor(214, 39, 40), QColor(44, 160, 44)};
    const QString names[] = {tr("max"), tr("min"), tr("range (max − min)")};
    for (int i = 0; i < 3; ++i) {
        auto* g = p->addGraph();
        g->setName(names[i]);
        QPen pen(colors[i], i == 2 ? 2.0 : 1.3);
        g->setPen(pen);
    }
    auto* after = p->addGraph();
    after->setName(tr("range after the last run"));
    after->setPen(QPen(QColor(255, 127, 14), 2.0, Qt::DashLine));
    after->removeFromLegend();
    setIntegerTicks(p->xAxis);
    p->xAxis->setLabel(tr("Output channel"));
    p->yAxis->setLabel(tr("Weight value"));
    p->legend->setVisible(true);
    p->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    p->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    clear();
}

void ChannelStatsPlot::clear() {
    name_.clear();
    stats_ = {};
    for (int i = 0; i < plot()->graphCount(); ++i) plot()->graph(i)->data()->clear();
    setTitleText(tr("Layer channels"));
    setPlaceholder(
        tr("Select a layer in the table to see its per-output-channel min, max and "
           "range"));
    replotLater();
}

bool ChannelStatsPlot::showsEqualized() const { return !plot()->graph(3)->data()->isEmpty(); }

void ChannelStatsPlot::setLayer(const QString& name, const LayerStats& stats,
                                const LayerStats* equalized) {
    if (!stats.valid) {
        clear();
        setPlaceholder(tr("%1 has no per-channel statistics").arg(name));
        return;
    }
    name_ = name;
    stats_ = stats;
    const int n = static_cast<int>(stats.range.size());
    QVector<double> x(n);
    for (int i = 0; i < n; ++i) x[i] = i;
    plot()->graph(0)->setData(x, toVector(stats.out.max), true);
    plot()->graph(1)->setData(x, toVector(stats.out.min), true);
    plot()->graph(2)->setData(x, toVector(stats.range), true);
    const auto scatter = n <= 64 ? QCPScatterStyle(QCPScatterStyle::ssDisc, 4)
                                 : QCPScatterStyle(QCPScatterStyle::ssNone);
    for (int i = 0; i < 3; ++i) plot()->graph(i)->setScatterStyle(scatter);
    plot()->graph(3)->data()->clear();
    plot()->graph(3)->removeFromLegend();
    if (equalized && equalized->valid && int(equalized->range.size()) == n) {
        plot()->graph(3)->setData(x, toVector(equalized->range), true);
        plot()->graph(3)->addToLegend();
    }
    plot()->setNotAntialiasedElements(n > 128 ? QCP::aePlottables : QCP::aeNone);
    setTitleText(
        showsEqualized()
            ? tr("%1: %n output channel(s), range imbalance %2 → %3 after the run", nullptr, n)
                  .arg(name, LayerTableModel::formatImbalance(stats.imbalance),
                       LayerTableModel::formatImbalance(equalized->imbalance))
            : tr("%1: %n output channel(s), range imbalance %2", nullptr, n)
                  .arg(name, LayerTableModel::formatImbalance(stats.imbalance)));
    setPlaceholder({});
    plot()->rescaleAxes();
    plot()->yAxis->scaleRange(1.1, plot()->yAxis->range().center());  // headroom for peaks
    plot()->xAxis->setRange(-0.5, std::max(n, 1) - 0.5);
    replotLater();
}

QString ChannelStatsPlot::csv() const {
    QString out = QStringLiteral("channel,min,max,range\n");
    for (size_t i = 0; i < stats_.range.size(); ++i) {
        out += QStringLiteral("%1,%2,%3,%4\n")
                   .arg(i)
                   .arg(double(stats_.out.min[i]), 0, 'g', 9)
                   .arg(double(stats_.out.max[i]), 0, 'g', 9)
                   .arg(double(stats_.range[i]), 0, 'g', 9);
    }
    return out;
}

}  // namespace cle::ui
