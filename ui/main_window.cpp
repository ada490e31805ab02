#include "ui/main_window.h"

#include <algorithm>

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QComboBox>
#include <QDir>
#include <QFileInfo>
#include <QGroupBox>
#include <QKeyEvent>
#include <QLabel>
#include <QMenuBar>
#include <QMimeData>
#include <QProgressBar>
#include <QScreen>
#include <QSettings>
#include <QSplitter>
#include <QStatusBar>
#include <QStyle>
#include <QTabWidget>
#include <QTableView>
#include <QThread>
#include <QToolBar>
#include <QVBoxLayout>

#include "ui/export_names.h"
#include "ui/graph_view.h"
#include "ui/help_text.h"
#include "ui/layer_table_model.h"
#include "ui/layers_panel.h"
#include "ui/message_panel.h"
#include "ui/pair_view.h"
#include "ui/pairs_panel.h"
#include "ui/plots/channel_stats_plot.h"
#include "ui/plots/convergence_plot.h"
#include "ui/plots/quantization_plot.h"
#include "ui/plots/range_plot.h"
#include "ui/plots/scale_plot.h"
#include "ui/prompter.h"
#include "ui/quantization_view.h"
#include "ui/recent_files.h"
#include "ui/run_panel.h"
#include "ui/sample_model.h"
#include "ui/session.h"
#include "ui/verification_panel.h"

namespace cle::ui {

namespace {

QGroupBox* box(const QString& title, QWidget* content, QWidget* parent) {
    auto* group = new QGroupBox(title, parent);
    auto* layout = new QVBoxLayout(group);
    layout->setContentsMargins(6, 6, 6, 6);
    layout->addWidget(content);
    return group;
}
}  // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent), session_(new Session(this)) {
    setWindowTitle(tr("CLE Studio"));
    setAcceptDrops(true);
    createActions();
    createMenus();
    setCentralWidget(createCentralArea());
    busy_ = new QProgressBar(this);
    busy_->setRange(0, 0);
    busy_->setMaximumWidth(140);
    busy_->hide();
    busyLabel_ = new QLabel(this);
    statusBar()->addPermanentWidget(busyLabel_);
    statusBar()->addPermanentWidget(busy_);
    statusBar()->addPermanentWidget(runPanel_->statusLabel());
    statusBar()->addPermanentWidget(runPanel_->progressBar());
    connectSession();
    connectVerification();
    updateActions();
    restoreLayout();
    qApp->installEventFilter(this);
}

void MainWindow::restoreLayout() {
    QSettings s;
    if (!restoreGeometry(s.value(QStringLiteral("window/geometry")).toByteArray())) {
        // Fit the screen: 1500 x 950 where there is room, less on a laptop's 1280 x 800.
        const QRect screen =
            this->screen() ? this->screen()->availableGeometry() : QRect(0, 0, 1500, 950);
        resize(std::min(1500, screen.width() * 19 / 20), std::min(950, screen.height() * 19 / 20));
    }
    for (QSplitter* split : splitters())
        split->restoreState(s.value(QStringLiteral("window/") + split->objectName()).toByteArray());
}

void MainWindow::saveLayout() const {
    QSettings s;
    s.setValue(QStringLiteral("window/geometry"), saveGeometry());
    for (QSplitter* split : splitters())
        s.setValue(QStringLiteral("window/") + split->objectName(), split->saveState());
}

QList<QSplitter*> MainWindow::splitters() const { return {mainSplit_, leftSplit_, rightSplit_}; }

QString MainWindow::lastFolder() {
    return QSettings().value(QStringLiteral("files/lastFolder")).toString();
}

MainWindow::~MainWindow() { session_->stopForClose(); }

QWidget* MainWindow::createCentralArea() {
    layersPanel_ = new LayersPanel(this);
    pairsPanel_ = new PairsPanel(session_->pairList(), this);
    runPanel_ = new RunPanel(runAction_, cancelAction_, resetAction_, this);
    pairView_ = new PairView(this);
    channelPlot_ = new ChannelStatsPlot(this);
    quantizationView_ = new QuantizationView(this);
    graphView_ = new GraphView(this);

    leftSplit_ = new QSplitter(Qt::Vertical, this);
    leftSplit_->setObjectName(QStringLiteral("leftSplitter"));
    leftSplit_->addWidget(box(tr("Layers"), layersPanel_, this));
    leftSplit_->addWidget(box(tr("Pairs to equalize"), pairsPanel_, this));
    leftSplit_->setStretchFactor(0, 3);
    leftSplit_->setStretchFactor(1, 2);

    tabs_ = new QTabWidget(this);
    tabs_->addTab(pairView_, tr("Equalization"));
    tabs_->addTab(channelPlot_, tr("Layer channels"));
    tabs_->addTab(quantizationView_, tr("Quantization"));
    tabs_->addTab(graphView_, tr("Graph"));
    // The run settings and buttons live in a tool bar, so the plots get the height.
    QToolBar* runBar = addToolBar(tr("Run"));
    runBar->setObjectName(QStringLiteral("runToolBar"));
    runBar->setMovable(false);
    runBar->addWidget(runPanel_);
    rightSplit_ = new QSplitter(Qt::Vertical, this);
    rightSplit_->setObjectName(QStringLiteral("plotsSplitter"));
    // The network check is the run's headline, above the plots.
    verificationPanel_ = new VerificationPanel(this);
    auto* right = new QWidget(this);
    auto* rightLayout = new QVBoxLayout(right);
    rightLayout->setContentsMargins(0, 0, 0, 0);
    rightLayout->addWidget(box(tr("Network check"), verificationPanel_, this));
    rightLayout->addWidget(tabs_, 1);
    rightSplit_->addWidget(right);
    rightSplit_->addWidget(runPanel_->messagePanel());
    rightSplit_->setStretchFactor(0, 1);
    rightSplit_->setStretchFactor(1, 0);
    rightSplit_->setCollapsible(0, false);
    connect(runPanel_->messagePanel(), &MessagePanel::expandedChanged, this, [this](bool open) {
        const QList<int> sizes = rightSplit_->sizes();
        const int total = sizes.value(0) + sizes.value(1);
        if (open && sizes.value(1) < 100) rightSplit_->setSizes({total - 140, 140});
    });

    mainSplit_ = new QSplitter(Qt::Horizontal, this);
    mainSplit_->setObjectName(QStringLiteral("mainSplitter"));
    mainSplit_->addWidget(leftSplit_);
    mainSplit_->addWidget(rightSplit_);
    mainSplit_->setStretchFactor(0, 2);
    mainSplit_->setStretchFactor(1, 5);
    mainSplit_->setSizes({520, 980});
    mainSplit_->setCollapsible(1, false);
    connectPanels();
    return mainSplit_;
}

void MainWindow::connectPanels() {
    connect(layersPanel_, &LayersPanel::layerSelected, this, &MainWindow::onLayerSelected);
    connect(layersPanel_, &LayersPanel::layerActivated, this, [this](const QString& name) {
        const QString problem = session_->pairList()->appendToChain(name.toStdString());
        if (!problem.isEmpty()) statusBar()->showMessage(problem, 8000);
    });
    PairList* pairs = session_->pairList();
    connect(pairs, &PairList::groupsChanged, this, &MainWindow::updateActions);
    connect(pairs, &PairList::groupsChanged, this, &MainWindow::updateGraphPairs);
    connect(pairs, &PairList::rejectedChanged, this, &MainWindow::updateGraphPairs);
    connect(graphView_, &GraphView::layerSelected, this, &MainWindow::onGraphNodeSelected);
    // The region the plots show is outlined in the graph.
    connect(pairView_->pairBox(), &QComboBox::currentIndexChanged, this, [this](int index) {
        const core::Summary* s = session_->summary();
        const size_t pairs = s ? s->pairs.size() : 0;
        const bool region =
            s && index >= 0 && size_t(index) - pairs < s->regions.size() && size_t(index) >= pairs;
        graphView_->showRegion(region ? &s->regions[size_t(index) - pairs].region : nullptr);
    });
    connect(quantizationView_, &QuantizationView::dropPairRequested, this,
            [this](const QString& first, const QString& second) {
                const QString why = dropPairAndRun(first, second);
                if (!why.isEmpty()) showError(tr("Run again"), why);
            });
    pairs->setAllowRelu6(runPanel_->allowRelu6());
    connect(runPanel_, &RunPanel::allowRelu6Changed, pairs, &PairList::setAllowRelu6);
    connect(pairsPanel_, &PairsPanel::loadRequested, this, &MainWindow::promptLoadPairs);
    connect(pairsPanel_, &PairsPanel::saveRequested, this, &MainWindow::promptSavePairs);
}

void MainWindow::connectSession() {
    connect(session_, &Session::loadStarted, this, [this](const QString& path) {
        busyLabel_->setText(tr("Loading %1…").arg(QFileInfo(path).fileName()));
    });
    connect(session_, &Session::modelLoaded, this, &MainWindow::onModelLoaded);
    connect(session_, &Session::loadFailed, this, [this](const QString& message) {
        showError(
            tr("Could not open the file"),
            session_->model() ? message + tr("\nThe model that was open stays loaded.") : message);
    });
    connect(session_, &Session::busyChanged, this, [this](bool) {
        const bool show = session_->isLoading() || session_->isExporting();
        busy_->setVisible(show);
        if (!show) busyLabel_->clear();
        pairsPanel_->setBusy(session_->isBusy());
        updateActions();
    });
    connect(session_, &Session::runStarted, this, [this] {
        core::EqualizeOptions o;
        runPanel_->options(o, nullptr);
        runPanel_->runStarted(o.maxSweeps, o.threshold);
        layersPanel_->tableModel()->setEqualizedImbalance({});
        showQuantization(nullptr);
        if (tabs_->currentWidget() != quantizationView_) tabs_->setCurrentWidget(pairView_);
        pairView_->setSummary(session_->summary(), true);
    });
    connect(session_, &Session::runProgressed, this, [this](int sweep, float delta) {
        runPanel_->progressed(sweep, delta);
        pairView_->setSummary(session_->summary(), true);
    });
    connect(session_, &Session::runFinished, this, &MainWindow::onRunFinished);
    connect(session_, &Session::runCancelled, this, [this] {
        const core::Summary* s = session_->summary();
        pairView_->setSummary(s, false);
        runPanel_->cancelled(s ? s->sweeps : 0);
        statusBar()->showMessage(tr("Run cancelled; the loaded weights are unchanged"), 8000);
    });
    connect(session_, &Session::runFailed, this, [this](const QString& message) {
        runPanel_->failed(message);
        pairView_->setSummary(session_->summary(), false);
        showError(tr("Equalization failed"), message);
    });
    connect(session_, &Session::resultChanged, this, &MainWindow::updateActions);
    connect(session_, &Session::exportFinished, this, [this](const QString& path) {
        exported_ = true;
        statusBar()->showMessage(tr("Exported %1").arg(path), 10000);
    });
    connect(session_, &Session::exportFailed, this,
            [this](const QString& message) { showError(tr("Export failed"), message); });
}

bool MainWindow::openFile(const QString& path) {
    if (session_->isBusy()) {
        showError(tr("Open"), tr("Wait for the current operation to finish, or cancel the run."));
        return false;
    }
    busy_->show();
    return session_->open(path);
}

void MainWindow::onModelLoaded() {
    auto model = session_->model();
    RecentFiles::add(model->path);
    QSettings().setValue(QStringLiteral("files/lastFolder"), QFileInfo(model->path).absolutePath());
    setWindowTitle(tr("%1 — CLE Studio").arg(QFileInfo(model->path).fileName()));
    layersPanel_->setModel(model);
    graphView_->setModel(model);
    pairView_->setSummary(nullptr, false);
    showQuantization(nullptr);
    runPanel_->clearOutcome();
    channelPlot_->clear();
    statusBar()->showMessage(
        tr("Loaded %1: %n layer(s), %2 format, in %3 s", nullptr,
           static_cast<int>(model->model.layers.size()))
            .arg(QFileInfo(model->path).fileName(),
                 QString::fromStdString(core::toString(model->model.info.format)),
                 QString::number(model->seconds, 'f', 2)),
        10000);
    QStringList broken;
    for (size_t i = 0; i < model->stats.size(); ++i)
        if (model->stats[i].nonFinite > 0)
            broken << QString::fromStdString(model->model.layers[i].info.name);
    if (!broken.isEmpty())
        statusBar()->showMessage(tr("%n layer(s) hold NaN or infinite weights and cannot be "
                                    "equalized: %1",
                                    nullptr, int(broken.size()))
                                     .arg(broken.join(QStringLiteral(", "))),
                                 15000);
    updateActions();
}

void MainWindow::updateGraphPairs() {
    const PairList* pairs = session_->pairList();
    graphView_->setPairs(pairs->confirmedGroups(), pairs->suggestedGroups(), pairs->rejected());
}

QString MainWindow::runNow() {
    if (session_->isRunning()) return tr("A run is already going on.");
    const auto pairs = session_->pairList()->pairs();
    const auto regions = session_->pairList()->regions();
    if (pairs.empty() && regions.empty()) {
        return session_->pairList()->hasSuggestions()
                   ? tr("Accept the suggested chains (or build a chain) before running.")
                   : tr("Add at least one pair: pick layers in the Pairs panel or press "
                        "Suggest.");
    }
    core::EqualizeOptions options;
    QString error;
    if (!runPanel_->options(options, &error)) return error;
    runPanel_->saveSettings();
    // Leave a core to the GUI thread; the results do not depend on the thread count.
    options.threads = std::max(1, QThread::idealThreadCount() - 1);
    return session_->startRun(pairs, options, runPanel_->allowRelu6(),
                              runPanel_->continueFromResult(), regions, runPanel_->absorbBias());
}

void MainWindow::cancelRun() {
    if (session_->isRunning()) {
        session_->cancelRun();
        statusBar()->showMessage(tr("Cancelling…"));
    }
}

void MainWindow::resetRun() {
    if (session_->isRunning()) return;
    session_->reset();
    stopVerification();
    pairView_->setSummary(nullptr, false);
    showQuantization(nullptr);
    runPanel_->clearOutcome();
    layersPanel_->tableModel()->setEqualizedImbalance({});
    showLayerChannels(channelPlot_->layerName());
    statusBar()->showMessage(tr("Back to the loaded weights"), 5000);
}

QString MainWindow::exportTo(const QString& weightsPath, const QString& reportPath, bool force) {
    bool declined = false;
    return startExport(weightsPath, reportPath, force, declined);
}

QString MainWindow::startExport(const QString& weightsPath, const QString& reportPath, bool force,
                                bool& declined) {
    const core::Summary* s = session_->summary();
    if (!session_->hasResult() || !s) return tr("Run an equalization first.");
    if (!s->converged &&
        !Prompter::instance().confirm(
            this, tr("Export a run that did not converge?"),
            tr("The last run stopped after %n sweep(s) without converging (last delta %1, "
               "threshold %2). Export these weights anyway?",
               nullptr, s->sweeps)
                .arg(QString::number(s->lastDelta(), 'g', 3),
                     QString::number(s->threshold, 'g', 3)))) {
        declined = true;
        return tr("Export cancelled.");
    }
    busyLabel_->setText(tr("Exporting %1…").arg(QFileInfo(weightsPath).fileName()));
    return session_->startExport(weightsPath, reportPath, force);
}

void MainWindow::updateActions() {
    const bool busy = session_->isBusy();
    const bool running = session_->isRunning();
    openAction_->setEnabled(!busy);
    runAction_->setEnabled(!busy && session_->model() && !session_->pairList()->pairs().empty());
    cancelAction_->setEnabled(running);
    resetAction_->setEnabled(!busy && session_->summary());
    exportAction_->setEnabled(!busy && session_->hasResult());
    loadPairsAction_->setEnabled(!busy && session_->model());
    savePairsAction_->setEnabled(!session_->pairList()->confirmedGroups().empty());
    runPanel_->setResultAvailable(!busy && session_->hasResult());
}

void MainWindow::showError(const QString& title, const QString& message) {
    statusBar()->showMessage(message.section('\n', 0, 0), 10000);
    emit errorShown(message);
    Prompter::instance().error(this, title, message);
}

QList<PlotWidget*> MainWindow::plots() const {
    return {pairView_->rangePlot(), pairView_->scalePlot(), pairView_->convergencePlot(),
            channelPlot_, quantizationView_->plot()};
}

void MainWindow::closeEvent(QCloseEvent* event) {
    if (session_->hasResult() && !exported_ &&
        !Prompter::instance().confirm(
            this, tr("Quit without exporting?"),
            tr("The equalized weights of the last run have not been exported. Quit anyway?"))) {
        event->ignore();
        return;
    }
    runPanel_->saveSettings();
    saveLayout();
    QSettings().setValue(QStringLiteral("export/report"), reportAction_->isChecked());
    // A job never outlives the window it reports to.
    session_->cancelRun();
    session_->waitForIdle();
    event->accept();
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
    const auto urls = event->mimeData()->urls();
    if (!urls.isEmpty() && urls.first().isLocalFile()) event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
    const auto urls = event->mimeData()->urls();
    if (urls.isEmpty() || !urls.first().isLocalFile()) return;
    event->acceptProposedAction();
    openFile(urls.first().toLocalFile());
}

}  // namespace cle::ui
