// The application on a network of real size and a laptop screen: run messages with levels in
// their own collapsible place, every control and plot reachable at 1280 x 800, and the window's
// layout remembered.
#include <memory>
#include <set>

#include <QAction>
#include <QCheckBox>
#include <QListWidget>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QSpinBox>
#include <QSplitter>
#include <QTemporaryDir>
#include <QToolButton>
#include <QTreeWidget>
#include <QtTest>

#include "mobilenet_fixture.h"
#include "test_support.h"
#include "ui/export_names.h"
#include "ui/main_window.h"
#include "ui/message_panel.h"
#include "ui/pair_view.h"
#include "ui/pairs_panel.h"
#include "ui/plots/convergence_plot.h"
#include "ui/plots/range_plot.h"
#include "ui/plots/scale_plot.h"
#include "ui/run_panel.h"
#include "ui/session.h"

using cle::test::FakePrompter;
using namespace cle;
using cle::test::openWindow;

namespace {

constexpr int kTimeoutMs = 60000;

bool runAndWait(ui::MainWindow& w) {
    QSignalSpy finished(w.session(), &ui::Session::runFinished);
    if (!w.runNow().isEmpty()) return false;
    return finished.wait(kTimeoutMs);
}

/// True when `child` lies entirely inside the window's visible area.
bool inside(const QWidget* child, const QWidget* window) {
    const QRect r(child->mapTo(window, QPoint(0, 0)), child->size());
    return child->isVisible() && window->rect().contains(r);
}

}  // namespace

class ScreenTest : public QObject {
    Q_OBJECT

private slots:
    void initTestCase();
    void init();
    void messagesHaveLevelsAndCollapse();
    void stalledDeltaIsNamed();
    void everythingReachableOnSmallScreen();
    void layoutIsRemembered();
    void suggestReplacesAndFollowsRelu6();
    void shortcutsHelpAndQuitPrompt();
    void exportNamesKeepTheFormat();

private:
    QTemporaryDir dir_;
    QString network_;
};

void ScreenTest::initTestCase() {
    QVERIFY(dir_.isValid());
    test::isolateTestProgram(dir_, "screen_test");
    network_ = dir_.filePath("mobilenet.h5");
    test::writeMobileNetLike(network_.toStdString());
}

void ScreenTest::init() {
    FakePrompter::errors.clear();
    QSettings().clear();
}

void ScreenTest::messagesHaveLevelsAndCollapse() {
    auto w = openWindow(network_);
    QVERIFY(w);
    w->runPanel()->allowRelu6Box()->setChecked(true);
    QVERIFY(w->pairsPanel()->suggest() > 0);
    w->pairsPanel()->confirmAll();
    QVERIFY(runAndWait(*w));

    ui::MessagePanel* panel = w->runPanel()->messagePanel();
    QVERIFY2(panel->summaryText().startsWith("Converged after"), qPrintable(panel->summaryText()));
    // Success is information, not an alarm; the collapse is a warning and opens the list.
    const auto& messages = panel->messages();
    QVERIFY(!messages.empty());
    int relaxed = 0, folded = 0;
    for (const auto& m : messages) {
        if (m.text.startsWith("Converged after")) QCOMPARE(m.level, ui::Message::Information);
        if (m.text.startsWith("ReLU6 → ReLU in")) relaxed = int(m.details.size());
        if (m.text.startsWith("Folded")) folded = int(m.details.size());
    }
    QCOMPARE(relaxed, int(w->session()->plan().relu6.size()));
    QVERIFY(relaxed > 20);  // one detail line per relaxed activation, not one long sentence
    QCOMPARE(folded, int(w->session()->plan().batchNorms.size()));
    QVERIFY(!ui::levelColor(ui::Message::Information).isValid());
    if (panel->worstLevel() != ui::Message::Information) QVERIFY(panel->isExpanded());
    QCOMPARE(panel->tree()->topLevelItemCount(), int(messages.size()));
    QVERIFY(w->runPanel()->outcomeText().contains("SQNR"));
    // A collapse names each layer on its own line.
    core::QuantizationReport q;
    for (const char* name : {"a", "b", "c"}) {
        core::LayerSqnr l;
        l.name = name;
        l.collapsedAfter = true;
        l.zeroFractionAfter = 0.6;
        l.zeroedChannelsAfter = 2;
        q.layers.push_back(l);
    }
    const ui::Message collapse = ui::collapseMessage(q);
    QCOMPARE(collapse.level, ui::Message::Warning);
    QVERIFY(collapse.text.startsWith("WARNING: equalization collapsed 3 layer(s) under INT8"));
    QCOMPARE(collapse.details.size(), 3);
    QVERIFY(collapse.details[1].startsWith("b: 60% of weights round to zero"));

    // Collapsed, the panel is one line and the plots get the room back.
    panel->setExpanded(true);
    QVERIFY(!panel->tree()->isHidden());
    panel->setExpanded(false);
    QVERIFY(panel->tree()->isHidden());
    QVERIFY(panel->maximumHeight() < 60);
}

void ScreenTest::stalledDeltaIsNamed() {
    // Flat at ~1e-5 for hundreds of sweeps: stalled. Falling slowly but steadily: not stalled.
    std::vector<float> flat{1.f, 0.1f, 0.01f};
    for (int i = 0; i < 300; ++i) flat.push_back(i % 2 ? 1.1e-5f : 0.95e-5f);
    QCOMPARE(ui::stalledSweeps(flat), 300);
    std::vector<float> falling;
    for (int i = 0; i < 300; ++i) falling.push_back(std::pow(0.995f, float(i)));
    QCOMPARE(ui::stalledSweeps(falling), 0);

    core::Summary s;
    s.converged = false;
    s.threshold = 1e-7;
    s.deltas = flat;
    s.sweeps = int(flat.size());
    const auto messages = ui::outcomeMessages(s);
    QCOMPARE(messages.front().level, ui::Message::Warning);
    QVERIFY2(messages.front().text.contains("stalled at about"), qPrintable(messages.front().text));
    QVERIFY(messages.front().text.contains("raise the threshold"));
    QVERIFY(!messages.front().text.contains("sweep limit"));
    s.deltas = falling;
    QVERIFY(ui::outcomeMessages(s).front().text.contains("Raise the sweep limit"));
}

void ScreenTest::everythingReachableOnSmallScreen() {
    {
        ui::MainWindow empty;
        QVERIFY2(empty.minimumSizeHint().width() <= 1240,
                 qPrintable(QString::number(empty.minimumSizeHint().width())));
    }
    auto w = openWindow(network_, QSize(1280, 800));
    QVERIFY(w);
    QCOMPARE(w->size(), QSize(1280, 800));
    w->runPanel()->allowRelu6Box()->setChecked(true);
    QVERIFY(w->pairsPanel()->suggest() > 0);
    w->pairsPanel()->confirmAll();
    QVERIFY(runAndWait(*w));
    w->runPanel()->messagePanel()->setExpanded(true);
    QTest::qWait(0);  // let the layout settle (no timing assumed)
    for (auto* button : w->runPanel()->findChildren<QToolButton*>())
        QVERIFY2(inside(button, w.get()), qPrintable(button->text()));
    for (auto* box : w->pairView()->findChildren<QCheckBox*>())
        QVERIFY2(inside(box, w.get()), qPrintable(box->text()));
    for (auto* button : w->pairsPanel()->findChildren<QPushButton*>())
        if (button->isVisible()) QVERIFY2(inside(button, w.get()), qPrintable(button->text()));
    QVERIFY(inside(w->runPanel()->progressBar(), w.get()));
    QVERIFY(w->pairView()->rangePlot()->height() >= ui::PairView::kMinPlotHeight);
    QVERIFY(w->pairView()->scalePlot()->height() >= ui::PairView::kMinPlotHeight - 10);
    QVERIFY(w->pairView()->convergencePlot()->height() >= ui::PairView::kMinPlotHeight - 10);
}

void ScreenTest::layoutIsRemembered() {
    QList<int> sizes;
    {
        auto w = openWindow(network_, QSize(1400, 860));
        QVERIFY(w);
        QCOMPARE(ui::MainWindow::lastFolder(), QFileInfo(network_).absolutePath());
        sizes = w->splitters().front()->sizes();
        sizes = {sizes[0] + 60, sizes[1] - 60};
        w->splitters().front()->setSizes(sizes);
        sizes = w->splitters().front()->sizes();
        w->close();
    }
    ui::MainWindow again;
    again.show();
    QVERIFY(QTest::qWaitForWindowExposed(&again));
    QCOMPARE(again.size(), QSize(1400, 860));
    QCOMPARE(again.splitters().front()->sizes(), sizes);
}

void ScreenTest::suggestReplacesAndFollowsRelu6() {
    auto w = openWindow(network_);
    QVERIFY(w);
    ui::PairsPanel* pairs = w->pairsPanel();
    const auto& topology = *w->session()->model()->topology;
    auto planPairs = [&](bool relu6) {
        size_t n = 0;
        for (const auto& s : topology.suggest(relu6).suggested) n += s.layers.size() - 1;
        return n;
    };
    const int first = pairs->suggest();
    QVERIFY(first > 0);
    QCOMPARE(pairs->suggest(), first);  // pressing Suggest again replaces, never adds
    QCOMPARE(pairs->list()->count(), first);
    pairs->confirmAll();
    QCOMPARE(pairs->pairs().size(), planPairs(false));

    // Allowing ReLU6 suggests again under the new rule: the longer chains replace the earlier
    // ones, and no pair appears twice.
    w->runPanel()->allowRelu6Box()->setChecked(true);
    QVERIFY(pairs->hasSuggestions());
    pairs->confirmAll();
    const auto all = pairs->pairs();
    QCOMPARE(all.size(), planPairs(true));
    std::set<std::pair<std::string, std::string>> unique;
    for (const auto& p : all) unique.insert({p.first, p.second});
    QCOMPARE(unique.size(), all.size());
    QVERIFY(all.size() > planPairs(false));

    // A chain built by hand stays; a suggestion sharing one of its pairs is left out.
    pairs->clear();
    QCOMPARE(pairs->appendToChain("block_16_project"), QString());
    QVERIFY(pairs->candidates() == QStringList{"Conv_1"});  // only what can follow
    QCOMPARE(pairs->appendToChain("Conv_1"), QString());
    QCOMPARE(pairs->commitChain(), QString());
    pairs->suggest();
    pairs->confirmAll();
    unique.clear();
    for (const auto& p : pairs->pairs()) unique.insert({p.first, p.second});
    QCOMPARE(unique.size(), pairs->pairs().size());
    QVERIFY(pairs->problemText().contains("left out"));
}

void ScreenTest::shortcutsHelpAndQuitPrompt() {
    auto w = openWindow(network_);
    QVERIFY(w);
    QVERIFY(w->pairsPanel()->suggest() > 0);
    w->pairsPanel()->confirmAll();
    QVERIFY(runAndWait(*w));

    // Quitting with a result that was not exported asks; declining keeps the window open.
    FakePrompter::confirmAnswer = false;
    FakePrompter::confirmations.clear();
    QVERIFY(!w->close());
    QCOMPARE(FakePrompter::confirmations, QStringList{"Quit without exporting?"});
    FakePrompter::confirmAnswer = true;

    // Ctrl+E exports while the sweep-limit spin box has the focus.
    w->activateWindow();
    QVERIFY(QTest::qWaitForWindowActive(w.get()));
    QSpinBox* spin = w->runPanel()->maxSweepsBox();
    spin->setFocus();
    QTRY_VERIFY(spin->hasFocus());
    FakePrompter::nextFileName = dir_.filePath("shortcut.h5");
    QSignalSpy exported(w->session(), &ui::Session::exportFinished);
    QTest::keyClick(spin, Qt::Key_E, Qt::ControlModifier);
    QVERIFY(exported.count() == 1 || exported.wait(kTimeoutMs));
    QCOMPARE(exported.first().first().toString(), FakePrompter::nextFileName);
    FakePrompter::nextFileName.clear();
    // Exported: quitting asks nothing.
    FakePrompter::confirmations.clear();
    QVERIFY(w->close());
    QVERIFY(FakePrompter::confirmations.isEmpty());

    // Help: the shortcuts and how to read the plots; recent files name their folder.
    FakePrompter::informations.clear();
    for (QAction* a : w->helpActions()) a->trigger();
    QCOMPARE(FakePrompter::informations.size(), 2);
    QVERIFY(FakePrompter::informations[0].contains("Ctrl+E"));
    QVERIFY(FakePrompter::informations[1].contains("Convergence"));
    QVERIFY(ui::MainWindow::recentEntryText("/data/nets/m.h5").contains("/data/nets"));
}

QTEST_MAIN(ScreenTest)
void ScreenTest::exportNamesKeepTheFormat() {
    // The suggested export name keeps the input's format, so the framework loads it back.
    QCOMPARE(ui::defaultExportName("/m/net.keras"), QString("/m/net_cle.keras"));
    QCOMPARE(ui::defaultExportName("/m/net.weights.json"), QString("/m/net_cle.weights.json"));
    QCOMPARE(ui::defaultExportName("/m/net.weights.h5"), QString("/m/net_cle.weights.h5"));
    QCOMPARE(ui::defaultExportName("/m/net.h5"), QString("/m/net_cle.h5"));
    QCOMPARE(ui::reportPathFor("/m/net_cle.keras"), QString("/m/net_cle.report.json"));
}

#include "screen_test.moc"
