// An ONNX model in the desktop application: BlazeFace opens, lists its layers, draws its node
// graph, suggests pairs from it, runs, checks the network and exports a model that the command
// line reads back.
#include <memory>

#include <QFile>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include "cle/core/model.h"
#include "test_support.h"
#include "ui/export_names.h"
#include "ui/graph_view.h"
#include "ui/main_window.h"
#include "ui/pairs_panel.h"
#include "ui/session.h"
#include "ui/verification_panel.h"
#include "ui/verify_job.h"

using namespace cle;
using cle::test::openWindow;

namespace {
const QString kBlazeFace = QStringLiteral(CLE_TEST_DATA_DIR "/onnx/blazeface_front_128.onnx");
constexpr int kTimeoutMs = 180000;
}  // namespace

class OnnxGuiTest : public QObject {
    Q_OBJECT

private slots:
    void initTestCase();
    void opensSuggestsRunsAndExports();

private:
    QTemporaryDir dir_;
};

void OnnxGuiTest::initTestCase() {
    QVERIFY(dir_.isValid());
    test::isolateTestProgram(dir_, "onnx_gui_test");
    QSettings().clear();
}

void OnnxGuiTest::opensSuggestsRunsAndExports() {
    auto w = openWindow(kBlazeFace, QSize(1400, 900));
    QVERIFY(w);
    const auto& model = *w->session()->model();
    QVERIFY(model.model.info.format == core::Format::Onnx);
    QCOMPARE(model.model.layers.size(), size_t(37));
    QVERIFY(model.graph);
    QVERIFY(w->graphView()->ensureLayout());
    QCOMPARE(w->graphView()->nodeCount(), int(model.graph->nodes.size()));

    QCOMPARE(w->pairsPanel()->suggest(), 17);  // 16 chains and the backbone's region
    w->pairsPanel()->confirmAll();
    QCOMPARE(w->pairsPanel()->confirmedGroups().size(), size_t(16));
    QCOMPARE(w->pairsPanel()->regions().size(), size_t(1));
    QSignalSpy finished(w->session(), &ui::Session::runFinished);
    QSignalSpy checked(w->verifyJob(), &ui::VerifyJob::finished);
    QVERIFY(w->runNow().isEmpty());
    QVERIFY(finished.wait(kTimeoutMs));
    QVERIFY(w->session()->summary());
    QCOMPARE(w->session()->summary()->pairs.size(), size_t(16));
    QCOMPARE(w->session()->summary()->regions.size(), size_t(1));
    QVERIFY(checked.wait(kTimeoutMs));
    QVERIFY2(w->verificationPanel()->headlineText().contains("function kept"),
             qPrintable(w->verificationPanel()->headlineText()));

    // The export keeps the format: an ONNX model is written as one.
    QCOMPARE(ui::defaultExportName(QStringLiteral("/models/face.onnx")),
             QStringLiteral("/models/face_cle.onnx"));
    QCOMPARE(ui::reportPathFor(QStringLiteral("/models/face_cle.onnx")),
             QStringLiteral("/models/face_cle.report.json"));
    const QString out = dir_.filePath("eq.onnx");
    QSignalSpy exported(w->session(), &ui::Session::exportFinished);
    QVERIFY(w->exportTo(out).isEmpty());
    QVERIFY(exported.wait(kTimeoutMs));
    auto written = core::loadModel(out.toStdString());
    QCOMPARE(written.layers.size(), size_t(37));
}

QTEST_MAIN(OnnxGuiTest)
#include "onnx_gui_test.moc"
