// Plots on networks of real size: the quantization chart with 60 layers and outliers, and the
// value under the pointer staying while the pointer stays.
#include <cmath>
#include <limits>
#include <memory>

#include <qcustomplot.h>
#include <QHelpEvent>
#include <QSettings>
#include <QSignalSpy>
#include <QSlider>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QToolTip>
#include <QtTest>

#include "test_support.h"
#include "ui/layers_panel.h"
#include "ui/main_window.h"
#include "ui/pair_view.h"
#include "ui/pairs_panel.h"
#include "ui/plots/channel_stats_plot.h"
#include "ui/plots/quantization_plot.h"
#include "ui/plots/range_plot.h"
#include "ui/session.h"

using cle::test::FakePrompter;
using namespace cle;

class PlotsTest : public QObject {
    Q_OBJECT

private slots:
    void initTestCase();
    void quantizationChartShowsTheChange();
    void hoverValueStays();
    void emptyPlotsTicksAndHeadroom();
    void longRunSliderShowsRecordedSweeps();

private:
    QTemporaryDir dir_;
};

void PlotsTest::initTestCase() {
    QVERIFY(dir_.isValid());
    test::isolateTestProgram(dir_, "plots_test");
}

void PlotsTest::quantizationChartShowsTheChange() {
    // 60 layers changing by a few dB, one gaining 150 dB, one quantized exactly after.
    core::QuantizationReport report;
    for (int i = 0; i < 60; ++i) {
        core::LayerSqnr l;
        l.name = "block_" + std::to_string(i) + "_project";
        l.parameters = 1000;
        l.perTensorBefore = 30;
        l.perTensorAfter = 30 + std::sin(double(i)) * 4;
        report.layers.push_back(l);
    }
    report.layers[10].perTensorAfter = 180;
    report.layers[20].perTensorAfter = std::numeric_limits<double>::infinity();
    ui::QuantizationPlot plot;
    plot.resize(800, 600);
    plot.setReport(report);
    QCOMPARE(plot.layerCount(), 60);
    // The scale keeps the few dB readable; the outliers are clipped and named.
    QVERIFY2(plot.clipLimit() >= 4 && plot.clipLimit() <= 10,
             qPrintable(QString::number(plot.clipLimit())));
    QCOMPARE(plot.clippedLayers(), (QStringList{"block_10_project", "block_20_project"}));
    QCOMPARE(plot.plot()->itemCount(), 2 + 1);  // two outlier labels besides the placeholder
    // One bar per layer along the vertical axis, each layer a readable row.
    auto* bars = qobject_cast<QCPBars*>(plot.plot()->plottable(0));
    QVERIFY(bars);
    QCOMPARE(bars->keyAxis(), plot.plot()->yAxis);
    QVERIFY(plot.minimumHeight() >= 60 * 15);
    // The bars show the change, not the absolute figures.
    double shown = 0;
    for (auto it = bars->data()->constBegin(); it != bars->data()->constEnd(); ++it)
        shown = std::max(shown, it->value);
    QVERIFY(shown <= plot.clipLimit());
    QCOMPARE(ui::QuantizationPlot::clipLimitFor({1, -2, 3}), 3 * 1.08);
}

void PlotsTest::hoverValueStays() {
    auto w = std::make_unique<ui::MainWindow>();
    w->resize(1400, 900);
    w->show();
    QSignalSpy loaded(w->session(), &ui::Session::modelLoaded);
    QVERIFY(w->openFile(QStringLiteral(CLE_SAMPLE_MODEL)));
    QVERIFY(loaded.wait(60000));
    QVERIFY(w->pairsPanel()->suggest() > 0);
    w->pairsPanel()->confirmAll();
    QSignalSpy finished(w->session(), &ui::Session::runFinished);
    QCOMPARE(w->runNow(), QString());
    QVERIFY(finished.wait(60000));
    QVERIFY(QTest::qWaitForWindowExposed(w.get()));

    QCustomPlot* p = w->pairView()->rangePlot()->plot();
    p->replot();
    const QPoint at(int(p->xAxis->coordToPixel(1)), p->height() / 2);
    QTest::mouseMove(p, at);
    QTRY_VERIFY(QToolTip::text().contains("Channel 1"));
    // Qt's own tool-tip event (after the hover delay) must not replace the value.
    QHelpEvent help(QEvent::ToolTip, at, p->mapToGlobal(at));
    QApplication::sendEvent(p, &help);
    QVERIFY2(QToolTip::text().contains("Channel 1"), qPrintable(QToolTip::text()));
}

void PlotsTest::emptyPlotsTicksAndHeadroom() {
    auto w = std::make_unique<ui::MainWindow>();
    w->resize(1400, 900);
    w->show();
    QSignalSpy loaded(w->session(), &ui::Session::modelLoaded);
    QVERIFY(w->openFile(QStringLiteral(CLE_SAMPLE_MODEL)));
    QVERIFY(loaded.wait(60000));
    // Empty plots: the hint wraps instead of being clipped, and no stale axis numbers show.
    ui::RangePlot* range = w->pairView()->rangePlot();
    const QString hint = range->placeholderText();
    QVERIFY(!hint.isEmpty());
    for (const QString& line : hint.split('\n'))
        QVERIFY2(line.size() <= ui::PlotWidget::kPlaceholderLine, qPrintable(line));
    QVERIFY(!range->plot()->xAxis->tickLabels());
    QVERIFY(QTest::qWaitForWindowExposed(w.get()));
    range->plot()->replot();
    // The axes fill the plot (an empty legend row once squeezed them into a corner).
    QVERIFY2(range->plot()->axisRect()->width() > range->plot()->width() / 2,
             qPrintable(QString::number(range->plot()->axisRect()->width())));

    QVERIFY(w->pairsPanel()->suggest() > 0);
    w->pairsPanel()->confirmAll();
    QSignalSpy finished(w->session(), &ui::Session::runFinished);
    QCOMPARE(w->runNow(), QString());
    QVERIFY(finished.wait(60000));
    w->pairView()->setPair(0);
    QVERIFY(range->plot()->xAxis->tickLabels());
    // Channel axes have whole-number ticks only; the highest peak has room above it.
    QVector<double> ticks;
    QVector<QString> labels;
    range->plot()->xAxis->ticker()->generate(QCPRange(-0.5, 8.5), QLocale::c(), 'g', 3, ticks,
                                             nullptr, &labels);
    QVERIFY(!ticks.isEmpty());
    for (double t : ticks) QCOMPARE(t, std::round(t));
    double top = 0;
    for (int g = 0; g < range->plot()->graphCount(); ++g)
        for (auto it = range->plot()->graph(g)->data()->constBegin();
             it != range->plot()->graph(g)->data()->constEnd(); ++it)
            top = std::max(top, it->value);
    QVERIFY(range->plot()->yAxis->range().upper >= top * 1.05);

    // The Layer channels tab shows the equalized weights after a run.
    const QString layer = QString::fromStdString(w->session()->summary()->pairs[0].first);
    w->layersPanel()->selectLayer(layer);
    QCOMPARE(w->channelPlot()->layerName(), layer);
    QVERIFY(w->channelPlot()->showsEqualized());
    w->resetRun();
    const QString other =
        QString::fromStdString(w->session()->model()->model.layers.back().info.name);
    QVERIFY(other != layer);
    w->layersPanel()->selectLayer(other);
    w->layersPanel()->selectLayer(layer);
    QCOMPARE(w->channelPlot()->layerName(), layer);
    QVERIFY(!w->channelPlot()->showsEqualized());  // back to the loaded weights only
}

QTEST_MAIN(PlotsTest)
#include "plots_test.moc"

// A run of 20000 sweeps keeps a thinned set of states: the slider runs over them, the spin box,
// the label and the plots name the real sweep of each.
void PlotsTest::longRunSliderShowsRecordedSweeps() {
    core::Summary s;
    s.threshold = 1e-4;
    s.pairs.resize(1);
    s.pairs[0].first = "a";
    s.pairs[0].second = "b";
    s.pairs[0].scale = {1.f, 1.f, 1.f};
    for (int k = 0; k <= 20000; ++k) {
        if (k > 0) s.deltas.push_back(1.f / float(k));
        s.sweeps = k;
        s.pairs[0].states.push_back({{float(k), 1.f, 2.f}, {1.f, float(k), 2.f}});
        core::recordStateSweep(s, k);
    }
    const size_t n = s.stateSweeps.size();
    QVERIFY(n <= core::kMaxRecordedStates && s.stateSweeps.back() == 20000);
    ui::PairView view;
    view.setSummary(&s, false);
    QCOMPARE(view.slider()->maximum(), int(n) - 1);
    QCOMPARE(view.spin()->maximum(), 20000);
    QCOMPARE(view.sweep(), 20000);
    QCOMPARE(view.rangePlot()->sweep(), 20000);

    view.slider()->setValue(3);
    const int third = s.stateSweeps[3];
    QVERIFY(third > 3);  // a real sweep number, not the state's index
    QCOMPARE(view.sweep(), third);
    QCOMPARE(view.spin()->value(), third);
    QCOMPARE(view.rangePlot()->sweep(), third);
    QCOMPARE(view.rangePlot()->afterOut().front(), double(third));  // the state of that sweep
    QVERIFY(
        view.rangePlot()->csv().contains(QStringLiteral("first_out_after_sweep_%1,").arg(third)));

    // The spin box steps to the next recorded state up, the one before down.
    view.spin()->setValue(third + 1);
    QCOMPARE(view.sweep(), s.stateSweeps[4]);
    view.spin()->setValue(s.stateSweeps[4] - 1);
    QCOMPARE(view.sweep(), third);
    view.setSweep(s.stateSweeps[5] + 1);  // a sweep between two states: the one before
    QCOMPARE(view.sweep(), s.stateSweeps[5]);
    QCOMPARE(view.slider()->value(), 5);

    // A live run goes on and its history is thinned again: the view keeps the sweep it showed
    // (or the recorded one before it), not the slider position.
    const int shown = view.sweep();
    const int stride = s.stateStride;
    for (int k = 20001; s.stateStride == stride; ++k) {
        s.deltas.push_back(1.f / float(k));
        s.sweeps = k;
        s.pairs[0].states.push_back({{float(k), 1.f, 2.f}, {1.f, float(k), 2.f}});
        core::recordStateSweep(s, k);
    }
    view.setSummary(&s, true);
    QCOMPARE(view.sweep(), s.stateSweeps[s.stateIndex(shown)]);
    QVERIFY(view.sweep() <= shown && view.sweep() > shown - s.stateStride);
    QCOMPARE(view.rangePlot()->afterOut().front(), double(view.sweep()));
}
