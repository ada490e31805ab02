// The layer table on real files: measured as the run measures (batch norms folded), natural
// order and inferred depthwise layers for files without a graph, NaN weights flagged at load,
// and files that cannot replace the open model (empty, no weights).
#include <cmath>
#include <limits>
#include <memory>

#include <QCheckBox>
#include <QFile>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include "cle/core/tensor.h"
#include "mobilenet_fixture.h"
#include "test_support.h"
#include "test_util.h"
#include "ui/layer_table_model.h"
#include "ui/layers_panel.h"
#include "ui/loss_reasons.h"
#include "ui/main_window.h"
#include "ui/pairs_panel.h"
#include "ui/quantization_view.h"
#include "ui/run_panel.h"
#include "ui/session.h"

using cle::test::FakePrompter;
using namespace cle;
using cle::test::openWindow;

namespace {

constexpr int kTimeoutMs = 60000;

QString cell(ui::MainWindow& w, const QString& layer, int column, int role = Qt::DisplayRole) {
    auto* m = w.layersPanel()->tableModel();
    const int row = m->rowOf(layer.toStdString());
    return row < 0 ? QString() : m->data(m->index(row, column), role).toString();
}

}  // namespace

class LayersTest : public QObject {
    Q_OBJECT

private slots:
    void initTestCase();
    void init();
    void imbalanceOnTheRunsBasis();
    void naturalOrderAndInferredDepthwise();
    void nanWeightsFlaggedAtLoad();
    void unusableFilesKeepTheModel();
    void worseLayersExplainedAndDropped();

private:
    QTemporaryDir dir_;
};

void LayersTest::initTestCase() {
    QVERIFY(dir_.isValid());
    test::isolateTestProgram(dir_, "layers_test");
}

void LayersTest::init() {
    FakePrompter::errors.clear();
    QSettings().clear();
}

void LayersTest::imbalanceOnTheRunsBasis() {
    const QString path = dir_.filePath("mobilenet.h5");
    test::writeMobileNetLike(path.toStdString(), 4);
    auto w = openWindow(path);
    QVERIFY(w);
    w->runPanel()->allowRelu6Box()->setChecked(true);
    QVERIFY(w->pairsPanel()->suggest() > 0);
    w->pairsPanel()->confirmAll();
    QSignalSpy finished(w->session(), &ui::Session::runFinished);
    QCOMPARE(w->runNow(), QString());
    QVERIFY(finished.wait(kTimeoutMs));
    // The table's "Imbalance" of a layer with a batch norm equals what the engine measured
    // before its first sweep (state 0, batch norm folded); the stored weights' is in the tooltip.
    int checked = 0;
    for (const auto& p : w->session()->summary()->pairs) {
        const QString layer = QString::fromStdString(p.first);
        const QString tip = cell(*w, layer, ui::LayerTableModel::Imbalance, Qt::ToolTipRole);
        if (!tip.contains("folded")) continue;
        const double engine = core::rangeImbalance(p.states.front().out);
        QCOMPARE(cell(*w, layer, ui::LayerTableModel::Imbalance),
                 ui::LayerTableModel::formatImbalance(engine));
        QVERIFY(tip.contains("stored weights alone"));
        ++checked;
    }
    QVERIFY(checked > 5);
}

void LayersTest::naturalOrderAndInferredDepthwise() {
    const QString path = dir_.filePath("torch_blocks.h5");
    {
        test::H5Writer file(path.toStdString());
        file.dataset("/block_10.weight", {8, 8}, test::randomValues(64, 1.0, 1));
        file.dataset("/block_2.weight", {8, 1, 3, 3}, test::randomValues(72, 1.0, 2));
        file.dataset("/block_1.weight", {8, 4}, test::randomValues(32, 1.0, 3));
    }
    auto w = openWindow(path);
    QVERIFY(w);
    auto* m = w->layersPanel()->tableModel();
    QCOMPARE(QString::fromStdString(m->layerName(0)), QStringLiteral("block_1"));
    QCOMPARE(QString::fromStdString(m->layerName(1)), QStringLiteral("block_2"));
    QCOMPARE(QString::fromStdString(m->layerName(2)), QStringLiteral("block_10"));
    QCOMPARE(cell(*w, "block_2", ui::LayerTableModel::Channels), QStringLiteral("8 (dw?)"));
    QVERIFY(cell(*w, "block_2", ui::LayerTableModel::Channels, Qt::ToolTipRole)
                .startsWith("Inferred depthwise"));
    QCOMPARE(cell(*w, "block_10", ui::LayerTableModel::Channels), QStringLiteral("8 → 8"));
    QVERIFY(ui::naturalLess("conv2", "conv10"));
    QVERIFY(ui::naturalLess("a007b", "a8"));
    QVERIFY(!ui::naturalLess("b1", "a2"));
}

void LayersTest::nanWeightsFlaggedAtLoad() {
    const QString path = dir_.filePath("nan.h5");
    {
        auto values = test::randomValues(64, 1.0, 4);
        values[5] = std::numeric_limits<double>::quiet_NaN();
        test::H5Writer file(path.toStdString());
        file.dataset("/fc1.weight", {8, 8}, values);
        file.dataset("/fc2.weight", {8, 8}, test::randomValues(64, 1.0, 5));
    }
    auto w = openWindow(path);
    QVERIFY(w);
    QCOMPARE(cell(*w, "fc1", ui::LayerTableModel::Imbalance), QStringLiteral("NaN/inf weights"));
    QVERIFY(cell(*w, "fc1", ui::LayerTableModel::Imbalance, Qt::ToolTipRole).contains("NaN"));
    QVERIFY(cell(*w, "fc2", ui::LayerTableModel::Imbalance) != QStringLiteral("NaN/inf weights"));
}

void LayersTest::unusableFilesKeepTheModel() {
    auto w = openWindow(QStringLiteral(CLE_SAMPLE_MODEL));
    QVERIFY(w);
    const auto sample = w->session()->model();
    // A filter typed for one file does not carry over to the next; while typed, the count shows.
    w->layersPanel()->filterEdit()->setText("no such layer");
    QCOMPARE(w->layersPanel()->shownText(),
             QStringLiteral("0 of %1 shown").arg(sample->model.layers.size()));

    const QString empty = dir_.filePath("empty.h5");
    QFile(empty).open(QIODevice::WriteOnly);
    const QString weightless = dir_.filePath("weightless.h5");
    {
        test::H5Writer file(weightless.toStdString());
        file.group("/nothing");
    }
    const std::pair<QString, QString> cases[] = {{empty, "is empty (0 bytes)"},
                                                 {weightless, "no layer with weights"}};
    for (const auto& [path, why] : cases) {
        QSignalSpy failed(w->session(), &ui::Session::loadFailed);
        QVERIFY(w->openFile(path));
        QVERIFY(failed.wait(kTimeoutMs));
        QVERIFY2(failed.first().first().toString().contains(why),
                 qPrintable(failed.first().first().toString()));
        QCOMPARE(w->session()->model(), sample);  // the open model stays
    }

    const QString other = dir_.filePath("other.h5");
    test::writeLinearChain(other.toStdString(), 2, 4);
    QSignalSpy loaded(w->session(), &ui::Session::modelLoaded);
    QVERIFY(w->openFile(other));
    QVERIFY(loaded.wait(kTimeoutMs));
    QVERIFY(w->layersPanel()->filterEdit()->text().isEmpty());
    QCOMPARE(w->layersPanel()->shownText(), QString());
}

void LayersTest::worseLayersExplainedAndDropped() {
    const QString path = dir_.filePath("mobilenet_full.h5");
    test::writeMobileNetLike(path.toStdString());
    auto w = openWindow(path);
    QVERIFY(w);
    w->runPanel()->allowRelu6Box()->setChecked(true);
    QVERIFY(w->pairsPanel()->suggest() > 0);
    w->pairsPanel()->confirmAll();
    QSignalSpy finished(w->session(), &ui::Session::runFinished);
    QCOMPARE(w->runNow(), QString());
    QVERIFY(finished.wait(kTimeoutMs));

    // Every layer that got worse is listed; where a depthwise neighbour caused it, it says so.
    const auto reasons = ui::explainLosses(*w->session()->quantization(), *w->session()->summary(),
                                           w->session()->model()->model.info);
    QVERIFY(!reasons.empty());
    const ui::LossReason* depthwise = nullptr;
    for (const auto& r : reasons) {
        QVERIFY(r.gain < 0);
        if (r.text.contains("depthwise layer") && !depthwise) depthwise = &r;
    }
    QVERIFY(depthwise);
    const QString layer = QString::fromStdString(depthwise->layer);
    ui::QuantizationView* view = w->quantizationView();
    QCOMPARE(view->reasonText(layer), depthwise->text);
    const auto pair = depthwise->pair;
    QVERIFY(pair.first == depthwise->layer || pair.second == depthwise->layer);

    // Dropping that pair and running again compares with the run before.
    view->selectLayer(layer);
    QVERIFY(view->dropButton()->isEnabled());
    const size_t before = w->pairsPanel()->pairs().size();
    view->dropButton()->click();
    QVERIFY(finished.wait(kTimeoutMs));
    QCOMPARE(w->pairsPanel()->pairs().size(), before - 1);
    for (const auto& p : w->pairsPanel()->pairs()) QVERIFY(p != pair);
    QVERIFY2(view->comparisonText().startsWith(
                 QStringLiteral("Without %1 → %2: per-tensor median")
                     .arg(QString::fromStdString(pair.first), QString::fromStdString(pair.second))),
             qPrintable(view->comparisonText()));
}

QTEST_MAIN(LayersTest)
#include "layers_test.moc"
