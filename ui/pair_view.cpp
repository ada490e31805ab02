#include "ui/pair_view.h"

#include <algorithm>
#include <numeric>

#include <qcustomplot.h>
#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QScrollArea>
#include <QSlider>
#include <QSpinBox>
#include <QSplitter>
#include <QVBoxLayout>

#include "ui/plots/convergence_plot.h"
#include "ui/plots/range_plot.h"
#include "ui/plots/scale_plot.h"
#include "ui/summary_table.h"

namespace cle::ui {

PairView::PairView(QWidget* parent)
    : QWidget(parent),
      pairBox_(new QComboBox(this)),
      slider_(new QSlider(Qt::Horizontal, this)),
      spin_(new QSpinBox(this)),
      sweepLabel_(new QLabel(this)),
      logBox_(new QCheckBox(tr("Log y"), this)),
      sortBox_(new QCheckBox(tr("Sort by range"), this)),
      rangePlot_(new RangePlot(this)),
      scalePlot_(new ScalePlot(this)),
      convergencePlot_(new ConvergencePlot(this)),
      summaryTable_(new SummaryTable(this)) {
    pairBox_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    pairBox_->setMinimumContentsLength(14);
    pairBox_->setToolTip(tr("The pair whose channels are plotted"));
    slider_->setRange(0, 0);
    slider_->setPageStep(1);
    slider_->setTickPosition(QSlider::TicksBelow);
    slider_->setToolTip(
        tr("State shown: 0 is before the first sweep, k is after sweep k (a run "
           "of thousands of sweeps keeps an evenly thinned set of them)"));
    spin_->setRange(0, 0);
    spin_->setToolTip(slider_->toolTip());
    // The spin box holds a sweep number; it is mapped to a recorded state once entered.
    spin_->setKeyboardTracking(false);
    spin_->setFixedWidth(spin_->fontMetrics().horizontalAdvance(QStringLiteral("000000")) + 24);
    // Fixed widths: a label that grows with the sweep count would re-layout (and replot) the
    // whole view on every update of a live run.
    sweepLabel_->setFixedWidth(
        sweepLabel_->fontMetrics().horizontalAdvance(tr("after sweep 00000 of 00000")));
    logBox_->setToolTip(tr("Logarithmic range axis"));
    sortBox_->setToolTip(
        tr("Order channels by the first layer's original output range, largest "
           "first"));

    auto* controls = new QHBoxLayout;
    controls->addWidget(new QLabel(tr("Pair:"), this));
    controls->addWidget(pairBox_);
    controls->addSpacing(12);
    controls->addWidget(new QLabel(tr("Sweep k:"), this));
    slider_->setMinimumWidth(80);
    controls->addWidget(slider_, 2);
    controls->addWidget(spin_);
    controls->addWidget(sweepLabel_);
    controls->addWidget(logBox_);
    controls->addWidget(sortBox_);

    auto* bottom = new QSplitter(Qt::Horizontal, this);
    bottom->addWidget(scalePlot_);
    bottom->addWidget(convergencePlot_);
    auto* split = new QSplitter(Qt::Vertical, this);
    split->addWidget(rangePlot_);
    split->addWidget(bottom);
    split->addWidget(summaryTable_);
    split->setStretchFactor(0, 5);
    split->setStretchFactor(1, 3);
    split->setStretchFactor(2, 2);
    split->setChildrenCollapsible(false);
    // Every plot keeps a readable height; on a short screen the view scrolls instead.
    rangePlot_->setMinimumHeight(kMinPlotHeight);
    bottom->setMinimumHeight(kMinPlotHeight);
    summaryTable_->setMinimumHeight(90);
    auto* scroll = new QScrollArea(this);
    scroll->setWidget(split);
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(controls);
    layout->addWidget(scroll, 1);

    connect(pairBox_, &QComboBox::currentIndexChanged, this, [this] {
        summaryTable_->setCurrentPair(pairBox_->currentIndex());
        refreshPlots();
    });
    connect(summaryTable_, &SummaryTable::pairChosen, this, &PairView::setPair);
    connect(slider_, &QSlider::valueChanged, this, &PairView::onSweepChosen);
    connect(spin_, &QSpinBox::valueChanged, this, &PairView::onSpinChosen);
    connect(logBox_, &QCheckBox::toggled, this, &PairView::setLogY);
    connect(sortBox_, &QCheckBox::toggled, this, [this] { refreshPlots(); });
    setSummary(nullptr, false);
}

void PairView::setSummary(const core::Summary* summary, bool live) {
    summary_ = summary;
    if (!live) follow_ = true;
    rangePlot_->setLive(live && summary);
    refreshPairList();
    summaryTable_->setSummary(summary);
    summaryTable_->setCurrentPair(pairBox_->currentIndex());
    if (!summary) {
        rangePlot_->clear(
            tr("Build a chain of layers and press Run to see the channel ranges "
               "of each pair"));
        scalePlot_->clear(tr("No run yet"));
        convergencePlot_->clear(tr("No run yet"));
    } else {
        convergencePlot_->setData(summary->deltas, summary->threshold);
    }
    refreshPlots();
}

namespace {

std::string joined(const std::vector<std::string>& names) {
    std::string s;
    for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
    return s;
}

}  // namespace

QString PairView::label(int index) const {
    const size_t pairs = summary_->pairs.size();
    if (size_t(index) < pairs) {
        const auto& p = summary_->pairs[size_t(index)];
        return QStringLiteral("%1 → %2").arg(QString::fromStdString(p.first),
                                             QString::fromStdString(p.second));
    }
    const auto& r = summary_->regions[size_t(index) - pairs].region;
    return tr("Region: %1 ⇒ %2")
        .arg(QString::fromStdString(joined(r.sources)), QString::fromStdString(joined(r.sinks)));
}

const core::PairHistory* PairView::history(int index) {
    if (!summary_ || index < 0) return nullptr;
    const size_t pairs = summary_->pairs.size();
    if (size_t(index) < pairs) return &summary_->pairs[size_t(index)];
    if (size_t(index) - pairs >= summary_->regions.size()) return nullptr;
    const auto& r = summary_->regions[size_t(index) - pairs];
    regionShown_ = {};
    regionShown_.first = joined(r.region.sources);
    regionShown_.second = joined(r.region.sinks);
    regionShown_.states = r.states;
    regionShown_.scale = r.scale;
    regionShown_.deadChannels = r.deadChannels;
    regionShown_.constantInputChannels = r.constantInputChannels;
    return &regionShown_;
}

void PairView::refreshPairList() {
    const int count =
        summary_ ? static_cast<int>(summary_->pairs.size() + summary_->regions.size()) : 0;
    bool same = count == pairBox_->count();
    for (int i = 0; same && i < count; ++i) same = pairBox_->itemText(i) == label(i);
    if (same) return;
    const QSignalBlocker block(pairBox_);
    const int previous = pairBox_->currentIndex();
    pairBox_->clear();
    for (int i = 0; i < count; ++i) pairBox_->addItem(label(i));
    pairBox_->setCurrentIndex(previous >= 0 && previous < count ? previous : (count ? 0 : -1));
}

void PairView::setPair(int index) {
    if (index >= 0 && index < pairBox_->count()) pairBox_->setCurrentIndex(index);
}

int PairView::pair() const { return pairBox_->currentIndex(); }

int PairView::sweep() const { return sweepOf(slider_->value()); }

void PairView::setSweep(int k) { slider_->setValue(summary_ ? int(summary_->stateIndex(k)) : k); }

int PairView::sweepOf(int index) const {
    return summary_ ? summary_->stateSweep(size_t(std::max(index, 0))) : index;
}

void PairView::onSpinChosen(int k) {
    if (!summary_) return;
    // Stepping up from a state moves to the next recorded one, stepping down to the one before.
    int index = int(summary_->stateIndex(k));
    if (k > sweepOf(slider_->value()) && sweepOf(index) < k) ++index;
    index = std::min(index, slider_->maximum());
    if (index == slider_->value()) {
        const QSignalBlocker block(spin_);
        spin_->setValue(sweepOf(index));
    }
    slider_->setValue(index);
}

void PairView::setLogY(bool log) {
    if (logBox_->isChecked() != log) logBox_->setChecked(log);
    rangePlot_->setLogY(log);
    refreshPlots();
}

void PairView::setSortByRange(bool sort) { sortBox_->setChecked(sort); }

std::vector<int> PairView::channelOrder(const core::PairHistory& pair) const {
    const size_t n = pair.states.empty() ? pair.scale.size() : pair.states.front().out.size();
    std::vector<int> order(n);
    std::iota(order.begin(), order.end(), 0);
    if (sortBox_->isChecked() && !pair.states.empty()) {
        const auto& r = pair.states.front().out;
        std::stable_sort(order.begin(), order.end(),
                         [&r](int a, int b) { return r[size_t(a)] > r[size_t(b)]; });
    }
    return order;
}

void PairView::refreshPlots() {
    const core::PairHistory* shown = history(pairBox_->currentIndex());
    if (!shown) {
        const QSignalBlocker b1(slider_), b2(spin_);
        slider_->setRange(0, 0);
        spin_->setRange(0, 0);
        sweepLabel_->setText(tr("no states"));
        if (summary_) rangePlot_->clear(tr("Waiting for the first sweep…"));
        return;
    }
    const auto& pair = *shown;
    const int last = std::max(0, static_cast<int>(pair.states.size()) - 1);
    const bool atEnd = slider_->value() >= slider_->maximum();
    {
        const QSignalBlocker b1(slider_), b2(spin_);
        slider_->setRange(0, last);
        spin_->setRange(0, sweepOf(last));
        slider_->setTickInterval(std::max(1, last / 20));
        if (follow_ && atEnd)
            slider_->setValue(last);
        else if (summary_)  // the same sweep, wherever thinning moved its state
            slider_->setValue(int(summary_->stateIndex(shownSweep_)));
        shownSweep_ = sweepOf(slider_->value());
        spin_->setValue(shownSweep_);
    }
    const int index = slider_->value();
    const int k = sweepOf(index);
    const int lastSweep = sweepOf(last);
    sweepLabel_->setText(k == 0 ? tr("before (of %n sweep(s))", nullptr, lastSweep)
                                : tr("after sweep %1 of %2").arg(k).arg(lastSweep));
    const auto order = channelOrder(pair);
    rangePlot_->setData(pair, index, order, k, lastSweep);
    scalePlot_->setData(pair, order);
    convergencePlot_->setMarker(k);
    const QString x =
        sortBox_->isChecked() ? tr("Channels, sorted by original output range") : tr("Channel");
    rangePlot_->plot()->xAxis->setLabel(x);
    scalePlot_->plot()->xAxis->setLabel(x);
}

void PairView::onSweepChosen(int index) {
    // Moving back from the newest state stops following the live run; moving to it resumes.
    follow_ = index >= slider_->maximum();
    shownSweep_ = sweepOf(index);
    {
        const QSignalBlocker block(spin_);
        spin_->setValue(sweepOf(index));
    }
    refreshPlots();
}

}  // namespace cle::ui
