// The graph view: the file's layers laid out by Graphviz, chains and rejected candidates drawn,
// INT8 change as colour after a run, selection shared with the table and the plots, find and
// export; a graph of about 300 nodes; files without a graph say so.
#include <algorithm>
#include <memory>

#include <QCheckBox>
#include <QElapsedTimer>
#include <QFile>
#include <QLineEdit>
#include <QSettings>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QtTest>

#include "mobilenet_fixture.h"
#include "test_support.h"
#include "ui/graph_view.h"
#include "ui/layers_panel.h"
#include "ui/main_window.h"
#include "ui/pair_view.h"
#include "ui/pairs_panel.h"
#include "ui/run_panel.h"
#include "ui/session.h"

using cle::test::FakePrompter;
using namespace cle;
using cle::test::openWindow;

namespace {

constexpr int kTimeoutMs = 60000;

QColor plainFill(const ui::LoadedModel& model, const std::string& layer) {
    return ui::nodeFill(model.graph->nodes[size_t(model.graph->find(layer))]);
}

}  // namespace

class GraphTest : public QObject {
    Q_OBJECT

private slots:
    void initTestCase();
    void init();
    void graphShowsChainsRejectionsAndGains();
    void selectionIsShared();
    void regionIsOutlined();
    void findAndExport();
    void largeGraph();
    void noGraphIsExplained();

private:
    QTemporaryDir dir_;
    QString network_;
};

void GraphTest::initTestCase() {
    QVERIFY(dir_.isValid());
    test::isolateTestProgram(dir_, "graph_test");
    network_ = dir_.filePath("mobilenet.h5");
    test::writeMobileNetLike(network_.toStdString(), 6);
}

void GraphTest::init() { QSettings().clear(); }

void GraphTest::graphShowsChainsRejectionsAndGains() {
    auto w = openWindow(network_, QSize(1400, 900));
    QVERIFY(w);
    ui::GraphView* graph = w->graphView();
    QVERIFY(graph->ensureLayout());
    const auto& model = *w->session()->model();
    QCOMPARE(graph->nodeCount(), int(model.graph->nodes.size()));
    // Weighted layers look different from batch norms, activations and Adds.
    QCOMPARE(graph->nodeColor("block_1_expand"), plainFill(model, "block_1_expand"));
    QVERIFY(graph->nodeColor("block_1_expand") != graph->nodeColor("block_1_expand_BN"));
    QVERIFY(graph->nodeColor("block_1_expand_relu") != graph->nodeColor("block_2_add"));

    // Suggested chains are drawn (dashed until accepted), the rejected candidates with reasons.
    w->runPanel()->allowRelu6Box()->setChecked(true);
    QVERIFY(w->pairsPanel()->suggest() > 0);
    const size_t pairs = [&] {
        size_t n = 0;
        for (const auto& g : w->pairsPanel()->suggestedGroups()) n += g.size() - 1;
        return n;
    }();
    QCOMPARE(graph->highlightedEdges(), int(pairs + graph->rejectedTips().size()));
    QVERIFY(!graph->rejectedTips().isEmpty());
    bool addReason = false;
    for (const auto& tip : graph->rejectedTips()) addReason = addReason || tip.contains("Add");
    QVERIFY(addReason);

    // After a run each weighted layer is coloured by its INT8 change.
    w->pairsPanel()->confirmAll();
    QSignalSpy finished(w->session(), &ui::Session::runFinished);
    QCOMPARE(w->runNow(), QString());
    QVERIFY(finished.wait(kTimeoutMs));
    const auto* q = w->session()->quantization();
    QVERIFY(q && !q->layers.empty());
    for (const auto& l : q->layers) {
        if (l.name.find('/') != std::string::npos) continue;
        const double gain = (l.collapsedAfter ? 0.0 : l.perTensorAfter) -
                            (l.collapsedBefore ? 0.0 : l.perTensorBefore);
        QCOMPARE(graph->nodeColor(QString::fromStdString(l.name)), ui::gainFill(gain));
    }
    w->resetRun();
    QCOMPARE(graph->nodeColor("block_1_expand"), plainFill(model, "block_1_expand"));
}

void GraphTest::selectionIsShared() {
    auto w = openWindow(network_, QSize(1400, 900));
    QVERIFY(w);
    w->runPanel()->allowRelu6Box()->setChecked(true);
    QVERIFY(w->pairsPanel()->suggest() > 0);
    w->pairsPanel()->confirmAll();
    QSignalSpy finished(w->session(), &ui::Session::runFinished);
    QCOMPARE(w->runNow(), QString());
    QVERIFY(finished.wait(kTimeoutMs));
    w->tabs()->setCurrentWidget(w->graphView());
    QVERIFY(w->graphView()->ensureLayout());

    // A node chosen in the graph is the layer in the table and its pair in the plots.
    QVERIFY(w->graphView()->find("block_3_depthwise"));
    QCOMPARE(w->layersPanel()->selectedLayer(), QStringLiteral("block_3_depthwise"));
    const auto& p = w->session()->summary()->pairs[size_t(w->pairView()->pair())];
    QVERIFY(p.first == "block_3_depthwise" || p.second == "block_3_depthwise");
    QCOMPARE(w->tabs()->currentWidget(), w->graphView());  // the graph stays in view
    // And back: a layer chosen in the table is selected in the graph.
    w->layersPanel()->selectLayer("Conv1");
    QCOMPARE(w->graphView()->selectedLayer(), QStringLiteral("Conv1"));
}

// The region chosen in the plots has its sources and sinks outlined in the graph; a pair clears it.
void GraphTest::regionIsOutlined() {
    auto w = openWindow(network_, QSize(1400, 900));
    QVERIFY(w);
    w->runPanel()->allowRelu6Box()->setChecked(true);
    QVERIFY(w->pairsPanel()->suggest() > 0);
    w->pairsPanel()->confirmAll();
    QVERIFY(!w->pairsPanel()->regions().empty());
    QSignalSpy finished(w->session(), &ui::Session::runFinished);
    QCOMPARE(w->runNow(), QString());
    QVERIFY(finished.wait(kTimeoutMs));
    ui::GraphView* graph = w->graphView();
    QVERIFY(graph->ensureLayout());
    const auto* summary = w->session()->summary();
    QVERIFY(summary && !summary->regions.empty());
    const auto& region = summary->regions.front().region;
    const QString source = QString::fromStdString(region.sources.front());
    const QString sink = QString::fromStdString(region.sinks.back());
    const QColor plain = graph->nodeOutline(source);
    w->pairView()->setPair(int(summary->pairs.size()));  // the first region
    QCOMPARE(graph->nodeOutline(source), ui::kRegionSource);
    if (std::find(region.sources.begin(), region.sources.end(), region.sinks.back()) ==
        region.sources.end())
        QCOMPARE(graph->nodeOutline(sink), ui::kRegionSink);
    w->pairView()->setPair(0);
    QCOMPARE(graph->nodeOutline(source), plain);
    QVERIFY(plain != ui::kRegionSource);
}

void GraphTest::findAndExport() {
    auto w = openWindow(network_, QSize(1400, 900));
    QVERIFY(w);
    w->tabs()->setCurrentWidget(w->graphView());
    QVERIFY(w->graphView()->ensureLayout());
    QVERIFY(!w->graphView()->find("no such layer"));
    w->activateWindow();
    QVERIFY(QTest::qWaitForWindowActive(w.get()));
    w->graphView()->setFocus();
    QTest::keyClick(w->graphView(), Qt::Key_F, Qt::ControlModifier);
    QTRY_VERIFY(w->graphView()->findEdit()->hasFocus());
    QTest::keyClicks(w->graphView()->findEdit(), "block_5_pro");
    QTest::keyClick(w->graphView()->findEdit(), Qt::Key_Return);
    QCOMPARE(w->graphView()->selectedLayer(), QStringLiteral("block_5_project"));

    const QString png = dir_.filePath("graph.png"), svg = dir_.filePath("graph.svg");
    QVERIFY(w->graphView()->exportImage(png));
    QVERIFY(w->graphView()->exportImage(svg));
    QImage image(png);
    QVERIFY(image.height() > image.width());  // top to bottom
    QFile file(svg);
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QByteArray text = file.readAll();
    QVERIFY(text.contains("<svg"));
    QVERIFY(text.contains("block_5_project"));
}

void GraphTest::largeGraph() {
    const QString path = dir_.filePath("large.h5");
    test::writeMobileNetLike(path.toStdString(), 36);
    auto w = openWindow(path, QSize(1400, 900));
    QVERIFY(w);
    QElapsedTimer timer;
    timer.start();
    QVERIFY(w->graphView()->ensureLayout());
    const qint64 layoutMs = timer.elapsed();
    QVERIFY(w->graphView()->nodeCount() >= 300);
    QVERIFY(w->pairsPanel()->suggest() > 0);
    w->tabs()->setCurrentWidget(w->graphView());
    timer.restart();
    QVERIFY(w->graphView()->find("block_30_project"));
    w->graphView()->fit();
    QVERIFY(QTest::qWaitForWindowExposed(w.get()));
    qInfo("%d nodes: layout %lld ms, find and fit %lld ms", w->graphView()->nodeCount(), layoutMs,
          timer.elapsed());
}

void GraphTest::noGraphIsExplained() {
    const QString path = dir_.filePath("torch.h5");
    test::writeLinearChain(path.toStdString(), 3, 8);
    auto w = openWindow(path, QSize(1400, 900));
    QVERIFY(w);
    w->tabs()->setCurrentWidget(w->graphView());
    QVERIFY(!w->graphView()->ensureLayout());
    QVERIFY(w->graphView()->placeholderText().contains("no layer graph"));
}

QTEST_MAIN(GraphTest)
#include "graph_test.moc"
