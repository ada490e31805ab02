// Real networks in the desktop application: suggestions from the layer graph (accepted or
// dropped one by one, rejected candidates with reasons), runs through the run plan (batch-norm
// folding, ReLU6), the quantization preview, and an export equal to `cle equalize`.
#include <cmath>
#include <cstring>
#include <memory>

#include <QAction>
#include <QCheckBox>
#include <QComboBox>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QListWidget>
#include <QProcess>
#include <QRegularExpression>
#include <QSettings>
#include <QSignalSpy>
#include <QSlider>
#include <QTabWidget>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTreeWidget>
#include <QtTest>

#include "cle/core/model.h"
#include "cle/core/topology.h"
#include "test_support.h"
#include "test_util.h"
#include "ui/main_window.h"
#include "ui/message_panel.h"
#include "ui/pair_view.h"
#include "ui/pairs_panel.h"
#include "ui/plots/quantization_plot.h"
#include "ui/quantization_view.h"
#include "ui/rejected_list.h"
#include "ui/run_panel.h"
#include "ui/session.h"
#include "ui/summary_table.h"

using cle::test::FakePrompter;
using cle::test::KerasLayer;
using namespace cle;
using cle::test::openWindow;

namespace {

const QString kSample = QStringLiteral(CLE_SAMPLE_MODEL);
constexpr int kTimeoutMs = 60000;

bool buildChain(ui::MainWindow& w, const QStringList& chain) {
    for (const auto& name : chain)
        if (!w.pairsPanel()->appendToChain(name).isEmpty()) return false;
    return w.pairsPanel()->commitChain().isEmpty();
}

bool runAndWait(ui::MainWindow& w) {
    QSignalSpy finished(w.session(), &ui::Session::runFinished);
    if (!w.runNow().isEmpty()) return false;
    return finished.wait(kTimeoutMs);
}

KerasLayer input() { return {"InputLayer", "input", {}, {}, {}}; }

KerasLayer conv(const QString& name, long long in, long long out, const QStringList& inputs = {}) {
    return {"Conv2D",
            name,
            {{"filters", int(out)}, {"activation", "linear"}},
            inputs,
            {{"kernel", {3, 3, in, out}}, {"bias", {out}}}};
}

KerasLayer batchNorm(const QString& name, long long channels) {
    return {"BatchNormalization",
            name,
            {{"epsilon", 1e-3}},
            {},
            {{"gamma", {channels}},
             {"beta", {channels}},
             {"moving_mean", {channels}},
             {"moving_variance", {channels}}}};
}

std::vector<float> floats(const std::vector<unsigned char>& bytes) {
    std::vector<float> v(bytes.size() / sizeof(float));
    std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
    return v;
}

}  // namespace

class NetworksTest : public QObject {
    Q_OBJECT

private slots:
    void initTestCase();
    void init();
    void suggestedPairsNeedConfirmation();
    void suggestionsFollowTheTopology();
    void guessedSuggestionsAreMarked();
    void rejectedCandidatesAreListed();
    void regionsAreSuggestedRunAndPlotted();
    void absorbBiasOptionReachesTheRun();
    void quantizationTabAfterRun();
    void batchNormFoldedExportMatchesCommandLine();
    void relu6NeedsPermission();
    void degenerateChannelsAndCollapseAreShown();

private:
    QTemporaryDir dir_;
};

void NetworksTest::initTestCase() {
    QVERIFY(dir_.isValid());
    test::isolateTestProgram(dir_, "networks_test");
}

void NetworksTest::init() {
    FakePrompter::errors.clear();
    FakePrompter::confirmations.clear();
    FakePrompter::confirmAnswer = true;
    QSettings().clear();
}

void NetworksTest::suggestedPairsNeedConfirmation() {
    auto w = openWindow(kSample);
    QVERIFY(w);
    ui::PairsPanel* pairs = w->pairsPanel();
    QVERIFY(pairs->suggest() > 0);
    QVERIFY(pairs->hasSuggestions());
    QVERIFY(pairs->pairs().empty());
    QVERIFY(!w->runNow().isEmpty());
    QVERIFY(pairs->list()->item(0)->text().startsWith("Suggested"));
    pairs->confirmAll();
    QVERIFY(!pairs->hasSuggestions());
    QVERIFY(!pairs->pairs().empty());
}

void NetworksTest::suggestionsFollowTheTopology() {
    auto w = openWindow(kSample);
    QVERIFY(w);
    ui::PairsPanel* pairs = w->pairsPanel();
    QCOMPARE(pairs->suggest(), 1);
    QVERIFY(pairs->isSuggestion(0));
    QVERIFY(!pairs->isGuessed(0));
    QVERIFY(pairs->list()->item(0)->text().startsWith("Suggested: conv0"));
    QVERIFY(pairs->pairs().empty());  // nothing runs before it is accepted
    QVERIFY(!w->runNow().isEmpty());

    // The whole separable-convolution chain, with the depthwise/pointwise inner pairs.
    const core::Group full = {"conv0",           "conv1/depthwise", "conv1/pointwise",
                              "conv2/depthwise", "conv2/pointwise", "conv3/depthwise",
                              "conv3/pointwise", "conv4/depthwise", "conv4/pointwise",
                              "conv5/depthwise", "conv5/pointwise", "conv8"};
    QVERIFY(pairs->acceptSuggestion(0));
    QVERIFY(!pairs->hasSuggestions());
    QVERIFY(pairs->confirmedGroups() == std::vector<core::Group>{full});
    QCOMPARE(pairs->pairs().size(), full.size() - 1);
    QCOMPARE(pairs->rejectedList()->count(), 0);

    // Dropping a suggestion leaves the accepted chain alone; suggesting again adds no duplicate.
    QCOMPARE(pairs->suggest(), 0);
    pairs->clear();
    QCOMPARE(pairs->suggest(), 1);
    QVERIFY(pairs->dropSuggestion(0));
    QVERIFY(pairs->confirmedGroups().empty());
    QCOMPARE(pairs->list()->count(), 0);
}

void NetworksTest::guessedSuggestionsAreMarked() {
    const QString path = dir_.filePath("torch_chain.h5");
    test::writeLinearChain(path.toStdString(), 3, 16);
    auto w = openWindow(path);
    QVERIFY(w);
    ui::PairsPanel* pairs = w->pairsPanel();
    QCOMPARE(pairs->suggest(), 1);
    QVERIFY(pairs->isGuessed(0));
    QVERIFY2(pairs->list()->item(0)->text().contains("guessed"),
             qPrintable(pairs->list()->item(0)->text()));
    pairs->confirmAll();
    QCOMPARE(pairs->pairs().size(), size_t(2));
}

void NetworksTest::rejectedCandidatesAreListed() {
    // p feeds both a and the residual Add; a's output goes through the Add into b; b -> c is
    // a plain pair.
    const QString path = dir_.filePath("residual.h5");
    test::writeKerasModel(path.toStdString(), {input(),
                                               conv("p", 3, 8),
                                               conv("a", 8, 8),
                                               {"Add", "add", {}, {"a", "p"}, {}},
                                               conv("b", 8, 4),
                                               conv("c", 4, 4)});
    auto w = openWindow(path);
    QVERIFY(w);
    ui::PairsPanel* pairs = w->pairsPanel();
    QCOMPARE(pairs->suggest(), 2);  // the chain b -> c and the region around the Add
    QVERIFY(pairs->list()->item(0)->text().contains("b → c"));
    QVERIFY2(pairs->list()->item(1)->text().contains("Region: p, a => a, b"),
             qPrintable(pairs->list()->item(1)->text()));
    QVERIFY(!pairs->rejected().empty());
    ui::RejectedList* list = pairs->rejectedList();
    QCOMPARE(list->count(), int(pairs->rejected().size()));
    QVERIFY(!list->isHidden());
    bool addListed = false;
    for (int i = 0; i < list->count(); ++i) {
        const QTreeWidgetItem* item = list->tree()->topLevelItem(i);
        QVERIFY(!item->text(1).isEmpty());
        QVERIFY(item->toolTip(1).contains(item->text(1).toHtmlEscaped()));
        addListed = addListed || (item->text(0) == "a → b" && item->text(1).contains("Add"));
    }
    QVERIFY(addListed);

    // A pair the graph refuses is explained when it is made, as `cle pairs` explains it.
    QCOMPARE(pairs->appendToChain("a"), QString());
    const QString why = pairs->appendToChain("b");
    QVERIFY2(why.contains("Add"), qPrintable(why));
    QCOMPARE(pairs->problemText(), why);
    QCOMPARE(pairs->chain().size(), size_t(1));
    // "Next layer" proposes only what can follow a: nothing here (its output goes to the Add).
    QVERIFY(!pairs->candidates().contains("b"));
    QVERIFY(!pairs->candidates().contains("c"));
}

void NetworksTest::regionsAreSuggestedRunAndPlotted() {
    const QString path = dir_.filePath("residual.h5");
    test::writeKerasModel(path.toStdString(), {input(),
                                               conv("p", 3, 8),
                                               conv("a", 8, 8),
                                               {"Add", "add", {}, {"a", "p"}, {}},
                                               conv("b", 8, 4),
                                               conv("c", 4, 4)});
    auto w = openWindow(path);
    QVERIFY(w);
    ui::PairsPanel* pairs = w->pairsPanel();
    QCOMPARE(pairs->suggest(), 2);
    QVERIFY(pairs->regions().empty());  // a suggested region runs only once accepted
    pairs->confirmAll();
    QCOMPARE(pairs->regions().size(), size_t(1));
    QVERIFY(pairs->regions().front().sinks == (std::vector<std::string>{"a", "b"}));
    QCOMPARE(pairs->pairs().size(), size_t(1));  // the region is no pair of its own
    QVERIFY(runAndWait(*w));
    const auto* summary = w->session()->summary();
    QVERIFY(summary);
    QCOMPARE(summary->regions.size(), size_t(1));
    QVERIFY(summary->regions.front().states.size() >= 2);

    // The plots offer the region after the pairs: sources' against sinks' ranges.
    ui::PairView* view = w->pairView();
    QCOMPARE(view->pairBox()->count(), 2);
    QVERIFY(view->pairBox()->itemText(1).startsWith("Region: p, a"));
    view->setPair(1);
    QCOMPARE(view->pair(), 1);
    QCOMPARE(view->slider()->maximum(), int(summary->regions.front().states.size()) - 1);

    // Saved and loaded with the pairs file, as `cle --pairs-file` reads it.
    const QString file = dir_.filePath("with-region.json");
    QCOMPARE(pairs->saveFile(file), QString());
    pairs->clear();
    QCOMPARE(pairs->loadFile(file), QString());
    QCOMPARE(pairs->regions().size(), size_t(1));
}

void NetworksTest::absorbBiasOptionReachesTheRun() {
    const QString in = dir_.filePath("bn-relu.h5");
    test::writeKerasModel(in.toStdString(), {input(),
                                             conv("a", 3, 8),
                                             batchNorm("bn", 8),
                                             {"ReLU", "relu", {}, {}, {}},
                                             conv("b", 8, 4)});
    auto w = openWindow(in);
    QVERIFY(w);
    QCOMPARE(w->pairsPanel()->suggest(), 1);
    w->pairsPanel()->confirmAll();
    QVERIFY(runAndWait(*w));
    QVERIFY(w->session()->absorbed().empty());  // off by default
    w->runPanel()->absorbBiasBox()->setChecked(true);
    QVERIFY(runAndWait(*w));
    QCOMPARE(w->session()->absorbed().size(), size_t(1));
    QCOMPARE(w->session()->absorbed().front().first, std::string("a"));
    const QString text = w->runPanel()->messagePanel()->text();
    QVERIFY2(text.contains("High-bias absorption") && text.contains("a → b"), qPrintable(text));
}

void NetworksTest::quantizationTabAfterRun() {
    auto w = openWindow(kSample);
    QVERIFY(w);
    QCOMPARE(w->pairsPanel()->suggest(), 1);
    w->pairsPanel()->confirmAll();
    ui::QuantizationView* view = w->quantizationView();
    QCOMPARE(view->table()->rowCount(), 0);
    QVERIFY(view->summaryText().isEmpty());
    QVERIFY(runAndWait(*w));

    const core::Group chain = w->pairsPanel()->confirmedGroups().front();
    QCOMPARE(view->table()->rowCount(), int(chain.size()));
    QCOMPARE(view->plot()->layerCount(), int(chain.size()));
    for (int row = 0; row < view->table()->rowCount(); ++row) {
        const QString name = view->table()->item(row, ui::QuantizationView::Layer)->text();
        QVERIFY(std::find(chain.begin(), chain.end(), name.toStdString()) != chain.end());
    }
    const QString summary = view->summaryText();
    QVERIFY2(summary.contains(QRegularExpression("median -?\\d+\\.\\d dB")), qPrintable(summary));
    QVERIFY(summary.contains("worst") && summary.contains("weighted mean"));
    const auto* q = w->session()->quantization();
    QVERIFY(q);
    QVERIFY(q->perTensorAfter.median > q->perTensorBefore.median);  // what equalization buys
    QVERIFY(w->tabs()->tabText(w->tabs()->indexOf(view)).contains("dB"));
    QVERIFY(w->runPanel()->outcomeText().contains("SQNR"));
    QVERIFY(view->plot()->csv().count('\n') == int(chain.size()) + 1);

    w->resetRun();
    QCOMPARE(view->table()->rowCount(), 0);
}

void NetworksTest::batchNormFoldedExportMatchesCommandLine() {
    const QString in = dir_.filePath("conv_bn_relu_conv.h5");
    test::writeKerasModel(in.toStdString(), {input(),
                                             conv("a", 3, 8),
                                             batchNorm("bn", 8),
                                             {"ReLU", "relu", {}, {}, {}},
                                             conv("b", 8, 4)});
    auto w = openWindow(in);
    QVERIFY(w);
    QVERIFY(buildChain(*w, {"a", "b"}));
    w->runPanel()->setOptions(1e-4, 500);
    QVERIFY(runAndWait(*w));
    QVERIFY2(w->runPanel()->outcomeText().contains("Folded 1 batch norm"),
             qPrintable(w->runPanel()->outcomeText()));

    const QString gui = dir_.filePath("bn_gui.h5");
    const QString report = dir_.filePath("bn_gui.report.json");
    QSignalSpy exported(w->session(), &ui::Session::exportFinished);
    QCOMPARE(w->exportTo(gui, report), QString());
    QVERIFY(exported.wait(kTimeoutMs));

    const auto a = test::readAllDatasets(gui.toStdString());
    const std::string bn = "model_weights/bn/bn/";
    for (float g : floats(a.at(bn + "gamma:0"))) QCOMPARE(g, 1.f);
    for (float m : floats(a.at(bn + "moving_mean:0"))) QCOMPARE(m, 0.f);
    for (float v : floats(a.at(bn + "moving_variance:0"))) QCOMPARE(v, float(1.0 - 1e-3));
    // The folded bias lives in a's own bias, so the batch norm adds nothing.
    for (float beta : floats(a.at(bn + "beta:0"))) QCOMPARE(beta, 0.f);

    const QString cli = dir_.filePath("bn_cli.h5");
    QProcess process;
    process.start(QStringLiteral(CLE_CLI_PATH),
                  {"equalize", in, "-o", cli, "--pairs", "a,b", "--threshold", "1e-4",
                   "--max-sweeps", "500", "--quiet"});
    QVERIFY(process.waitForFinished(kTimeoutMs));
    QVERIFY2(process.exitCode() == 0, process.readAllStandardError().constData());
    const auto b = test::readAllDatasets(cli.toStdString());
    QCOMPARE(a.size(), b.size());
    for (const auto& [name, bytes] : b) {
        QVERIFY2(a.count(name), name.c_str());
        QVERIFY2(a.at(name) == bytes, name.c_str());
    }
    QVERIFY(test::readAllDatasets(in.toStdString()) != a);

    QFile json(report);
    QVERIFY(json.open(QIODevice::ReadOnly));
    const QJsonObject r = QJsonDocument::fromJson(json.readAll()).object();
    QVERIFY(r.contains("quantization"));
}

void NetworksTest::relu6NeedsPermission() {
    const QString in = dir_.filePath("relu6.h5");
    test::writeKerasModel(
        in.toStdString(),
        {input(), conv("a", 3, 8), {"ReLU", "r6", {{"max_value", 6.0}}, {}, {}}, conv("b", 8, 4)});
    auto w = openWindow(in);
    QVERIFY(w);
    QVERIFY(!w->runPanel()->allowRelu6());
    QCOMPARE(w->pairsPanel()->suggest(), 0);
    QVERIFY(!w->pairsPanel()->rejected().empty());
    // Refused when the pair is made, with the reason, not only at Run.
    QCOMPARE(w->pairsPanel()->appendToChain("a"), QString());
    QVERIFY(!w->pairsPanel()->candidates().contains("b"));
    const QString why = w->pairsPanel()->appendToChain("b");
    QVERIFY2(why.contains("ReLU6"), qPrintable(why));
    QCOMPARE(w->pairsPanel()->chain().size(), size_t(1));

    // Allowing ReLU6 refreshes the suggestions made before, and the builder's candidates.
    w->runPanel()->allowRelu6Box()->setChecked(true);
    QVERIFY(QSettings().value("run/allowRelu6").toBool());  // remembered
    QVERIFY(w->pairsPanel()->hasSuggestions());
    QVERIFY(w->pairsPanel()->candidates().contains("b"));
    w->pairsPanel()->confirmAll();
    QVERIFY(runAndWait(*w));
    QVERIFY2(w->runPanel()->outcomeText().contains("ReLU6 → ReLU in r6"),
             qPrintable(w->runPanel()->outcomeText()));
    // Its cost is shown next to the option; without a batch norm before it, as unknown.
    QCOMPARE(w->runPanel()->relu6CostText(), QStringLiteral("1 ReLU6 relaxed"));
    core::Relu6Cost known{"r6b", "bn", 0.062, 13, 0.0057};
    QString details;
    QCOMPARE(ui::describeRelu6Costs({known, core::Relu6Cost{"r6", "", 0, -1, 0}}, &details),
             QStringLiteral("2 ReLU6 relaxed · ≤6.2% of inputs above 6"));
    QVERIFY2(details.contains("r6b: mean 0.57%, worst 6.2% (channel 13)"), qPrintable(details));
    QVERIFY2(details.contains("r6: no batch norm before it"), qPrintable(details));
    // A ReLU with max_value 3 is estimated, and shown, against 3.
    QCOMPARE(ui::describeRelu6Costs({core::Relu6Cost{"r3", "bn", 0.1, 2, 0.05, 3.0}}),
             QStringLiteral("1 ReLU6 relaxed · ≤10% of inputs above 3"));
    w->pairsPanel()->clear();
    QCOMPARE(w->pairsPanel()->suggest(), 1);  // the suggestions follow the checkbox too

    // The exported file computes the function that was equalized: its r6 is a plain ReLU now.
    const QString out = dir_.filePath("relu6_cle.h5");
    QSignalSpy exported(w->session(), &ui::Session::exportFinished);
    QCOMPARE(w->exportTo(out), QString());
    QVERIFY(exported.wait(kTimeoutMs));
    const auto topology = core::Topology::build(core::inspectFile(out.toStdString()));
    QVERIFY(topology.link("a", "b", false, nullptr).has_value());
}

void NetworksTest::degenerateChannelsAndCollapseAreShown() {
    // A near-dead channel with a real bias: its amplification is in the summary table.
    auto w = openWindow(QStringLiteral(CLE_TEST_DATA_DIR "/cases/near-dead-channel.h5"));
    QVERIFY(w);
    QVERIFY(buildChain(*w, {"fc1", "fc2"}));
    QVERIFY(runAndWait(*w));
    const QTableWidget* summary = w->pairView()->summaryTable();
    QCOMPARE(summary->horizontalHeaderItem(7)->text(), QStringLiteral("Amplified biases"));
    QVERIFY2(summary->item(0, 7)->text().startsWith(QStringLiteral("1 (4: ×2.28e+04)")),
             qPrintable(summary->item(0, 7)->text()));
    QVERIFY2(w->runPanel()->outcomeText().contains("grew up to 2.28e+04 times"),
             qPrintable(w->runPanel()->outcomeText()));

    // A layer that equalization collapses: named first, above the figures, and never a gain.
    const QString path = dir_.filePath("collapse.h5");
    {
        auto a = test::randomValues(8 * 16, 1.0, 11), b = test::randomValues(16 * 8, 1.0, 12);
        for (int i = 0; i < 16; ++i) a[size_t(i)] *= 1e6;
        test::H5Writer file(path.toStdString());
        file.dataset("/fc1.weight", {8, 16}, a);
        file.dataset("/fc2.weight", {16, 8}, b);
    }
    w = openWindow(path);
    QVERIFY(w);
    QVERIFY(buildChain(*w, {"fc1", "fc2"}));
    QVERIFY(runAndWait(*w));
    ui::QuantizationView* view = w->quantizationView();
    const QString warning = view->warningText();
    QVERIFY2(warning.startsWith("WARNING: equalization collapsed 1 layer(s) under INT8: fc2 ("),
             qPrintable(warning));
    QVERIFY(warning.contains("% of weights round to zero"));
    QVERIFY(view->summaryText().startsWith(warning));
    const QTableWidget* table = view->table();
    int row = 0;
    while (row < table->rowCount() &&
           table->item(row, ui::QuantizationView::Layer)->text() != "fc2")
        ++row;
    QVERIFY(row < table->rowCount());
    QCOMPARE(table->item(row, ui::QuantizationView::Collapsed)->text(),
             QStringLiteral("by equalization"));
    QVERIFY(table->item(row, ui::QuantizationView::Gain)->text().contains("collapsed"));
    QVERIFY(table->item(row, ui::QuantizationView::ZeroAfter)->text().endsWith('%'));
    QVERIFY(w->runPanel()->outcomeText().contains("WARNING: equalization collapsed"));
}

QTEST_MAIN(NetworksTest)
#include "networks_test.moc"
