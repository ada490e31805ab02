#include "ui/main_window.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDir>
#include <QFileInfo>
#include <QGroupBox>
#include <QLabel>
#include <QMenuBar>
#include <QMimeData>
#include <QProgressBar>
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
#include "ui/layer_table_model.h"
#include "ui/layers_panel.h"
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
#include "ui/verify_job.h"

namespace cle::ui {

namespace {
const QString kModelFilter = QObject::tr("Weights (*.h5 *.hdf5 *.weights.h5 *.keras *.weights.json);;All files (*)");

QGroupBox* box(const QString& title, QWidget* content, QWidget* parent)
{
    auto* group = new QGroupBox(title, parent);
    auto* layout = new QVBoxLayout(group);
    layout->setContentsMargins(6, 6, 6, 6);
    layout->addWidget(content);
    return group;
}
}  // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent), session_(new Session(this))
{
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
    connectSession();
    connectVerification();
    updateActions();
    resize(1500, 950);
}

MainWindow::~MainWindow()
{
    session_->cancelRun();
    session_->waitForIdle();
}

void MainWindow::createActions()
{
    auto* st = style();
    openAction_ = new QAction(st->standardIcon(QStyle::SP_DialogOpenButton), tr("&Open…"), this);
    openAction_->setShortcut(QKeySequence::Open);
    connect(openAction_, &QAction::triggered, this, &MainWindow::promptOpen);
    exportAction_ = new QAction(st->standardIcon(QStyle::SP_DialogSaveButton),
                                tr("&Export Equalized Weights…"), this);
    exportAction_->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_E));
    connect(exportAction_, &QAction::triggered, this, &MainWindow::promptExport);
    reportAction_ = new QAction(tr("Also Write Run &Report (JSON)"), this);
    reportAction_->setCheckable(true);
    reportAction_->setChecked(QSettings().value(QStringLiteral("export/report"), true).toBool());
    runAction_ = new QAction(st->standardIcon(QStyle::SP_MediaPlay), tr("&Run"), this);
    runAction_->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_R));
    runAction_->setToolTip(tr("Equalize the confirmed groups (Ctrl+R)"));
    connect(runAction_, &QAction::triggered, this, [this] {
        const QString why = runNow();
        if (!why.isEmpty()) showError(tr("Cannot run"), why);
    });
    cancelAction_ = new QAction(st->standardIcon(QStyle::SP_MediaStop), tr("&Cancel"), this);
    cancelAction_->setShortcut(QKeySequence(Qt::Key_Escape));
    cancelAction_->setToolTip(tr("Stop the run (Esc); the loaded weights stay unchanged"));
    connect(cancelAction_, &QAction::triggered, this, &MainWindow::cancelRun);
    resetAction_ = new QAction(st->standardIcon(QStyle::SP_BrowserReload), tr("Re&set"), this);
    resetAction_->setToolTip(tr("Drop the result and return to the loaded weights"));
    connect(resetAction_, &QAction::triggered, this, &MainWindow::resetRun);
    loadPairsAction_ = new QAction(tr("&Load Pairs…"), this);
    connect(loadPairsAction_, &QAction::triggered, this, &MainWindow::promptLoadPairs);
    savePairsAction_ = new QAction(tr("&Save Pairs…"), this);
    connect(savePairsAction_, &QAction::triggered, this, &MainWindow::promptSavePairs);
}

void MainWindow::createMenus()
{
    QMenu* file = menuBar()->addMenu(tr("&File"));
    file->addAction(openAction_);
    recentMenu_ = file->addMenu(tr("Open &Recent"));
    connect(recentMenu_, &QMenu::aboutToShow, this, &MainWindow::rebuildRecentMenu);
    file->addAction(tr("Open &Sample Model"), this, [this] {
        const QString sample = sampleModelPath();
        if (sample.isEmpty())
            showError(tr("Open sample"), tr("The bundled sample model was not found."));
        else
            openFile(sample);
    });
    file->addSeparator();
    file->addAction(loadPairsAction_);
    file->addAction(savePairsAction_);
    file->addSeparator();
    file->addAction(exportAction_);
    file->addAction(reportAction_);
    QMenu* plotsMenu = file->addMenu(tr("Save &Plot"));
    connect(plotsMenu, &QMenu::aboutToShow, this, [this, plotsMenu] {
        plotsMenu->clear();
        for (PlotWidget* p : plots()) {
            plotsMenu->addAction(tr("%1 as Image…").arg(p->title()), p,
                                 &PlotWidget::promptSaveImage);
            plotsMenu->addAction(tr("%1 Data as CSV…").arg(p->title()), p,
                                 &PlotWidget::promptSaveCsv);
        }
    });
    file->addSeparator();
    file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);

    QMenu* run = menuBar()->addMenu(tr("&Run"));
    run->addAction(runAction_);
    run->addAction(cancelAction_);
    run->addAction(resetAction_);

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About CLE Studio"), this, [this] {
        Prompter::instance().error(
            this, tr("About CLE Studio"),
            tr("CLE Studio %1\nCross-layer equalization of neural-network weights (Nagel et al., "
               "2019), with the numerics of PyTorch's reference implementation.")
                .arg(QStringLiteral(CLE_VERSION)));
    });

    QToolBar* bar = addToolBar(tr("Main"));
    bar->setObjectName(QStringLiteral("mainToolBar"));
    bar->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    bar->setMovable(false);
    bar->addAction(openAction_);
    bar->addAction(exportAction_);
}

QWidget* MainWindow::createCentralArea()
{
    layersPanel_ = new LayersPanel(this);
    pairsPanel_ = new PairsPanel(this);
    runPanel_ = new RunPanel(runAction_, cancelAction_, resetAction_, this);
    pairView_ = new PairView(this);
    channelPlot_ = new ChannelStatsPlot(this);
    quantizationView_ = new QuantizationView(this);

    auto* left = new QSplitter(Qt::Vertical, this);
    left->addWidget(box(tr("Layers"), layersPanel_, this));
    left->addWidget(box(tr("Pairs to equalize"), pairsPanel_, this));
    left->setStretchFactor(0, 3);
    left->setStretchFactor(1, 2);

    tabs_ = new QTabWidget(this);
    tabs_->addTab(pairView_, tr("Equalization"));
    tabs_->addTab(channelPlot_, tr("Layer channels"));
    tabs_->addTab(quantizationView_, tr("Quantization"));
    auto* right = new QWidget(this);
    auto* rightLayout = new QVBoxLayout(right);
    rightLayout->setContentsMargins(0, 0, 0, 0);
    rightLayout->addWidget(box(tr("Run"), runPanel_, this));
    verificationPanel_ = new VerificationPanel(this);
    rightLayout->addWidget(box(tr("Network check"), verificationPanel_, this));
    rightLayout->addWidget(tabs_, 1);

    auto* split = new QSplitter(Qt::Horizontal, this);
    split->addWidget(left);
    split->addWidget(right);
    split->setStretchFactor(0, 2);
    split->setStretchFactor(1, 5);
    split->setSizes({650, 950});

    connect(layersPanel_, &LayersPanel::layerSelected, this, &MainWindow::onLayerSelected);
    connect(layersPanel_, &LayersPanel::layerActivated, this, [this](const QString& name) {
        const QString problem = pairsPanel_->appendToChain(name);
        if (!problem.isEmpty()) statusBar()->showMessage(problem, 8000);
    });
    connect(pairsPanel_, &PairsPanel::groupsChanged, this, &MainWindow::updateActions);
    pairsPanel_->setAllowRelu6(runPanel_->allowRelu6());
    connect(runPanel_, &RunPanel::allowRelu6Changed, pairsPanel_, &PairsPanel::setAllowRelu6);
    connect(pairsPanel_, &PairsPanel::loadRequested, this, &MainWindow::promptLoadPairs);
    connect(pairsPanel_, &PairsPanel::saveRequested, this, &MainWindow::promptSavePairs);
    return split;
}

void MainWindow::connectSession()
{
    connect(session_, &Session::loadStarted, this, [this](const QString& path) {
        busyLabel_->setText(tr("Loading %1…").arg(QFileInfo(path).fileName()));
    });
    connect(session_, &Session::modelLoaded, this, &MainWindow::onModelLoaded);
    connect(session_, &Session::loadFailed, this, [this](const QString& message) {
        showError(tr("Could not open the file"),
                  session_->model() ? message + tr("\nThe model that was open stays loaded.")
                                    : message);
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
        statusBar()->showMessage(tr("Exported %1").arg(path), 10000);
    });
    connect(session_, &Session::exportFailed, this,
            [this](const QString& message) { showError(tr("Export failed"), message); });
}

bool MainWindow::openFile(const QString& path)
{
    if (session_->isBusy()) {
        showError(tr("Open"), tr("Wait for the current operation to finish, or cancel the run."));
        return false;
    }
    busy_->show();
    return session_->open(path);
}

void MainWindow::onModelLoaded()
{
    auto model = session_->model();
    RecentFiles::add(model->path);
    setWindowTitle(tr("%1 — CLE Studio").arg(QFileInfo(model->path).fileName()));
    layersPanel_->setModel(model);
    pairsPanel_->setModel(model);
    pairView_->setSummary(nullptr, false);
    showQuantization(nullptr);
    runPanel_->clearOutcome();
    channelPlot_->clear();
    statusBar()->showMessage(tr("Loaded %1: %n layer(s), %2 format, in %3 s", nullptr,
                                static_cast<int>(model->model.layers.size()))
                                 .arg(QFileInfo(model->path).fileName(),
                                      QString::fromStdString(core::toString(model->model.info.format)),
                                      QString::number(model->seconds, 'f', 2)),
                             10000);
    updateActions();
}

void MainWindow::onRunFinished()
{
    const core::Summary* s = session_->summary();
    pairView_->setSummary(s, false);
    runPanel_->finished(*s, session_->runSeconds(), session_->plan(), session_->quantization(),
                        session_->relu6Costs());
    showQuantization(session_->quantization());
    layersPanel_->tableModel()->setEqualizedImbalance(session_->equalizedImbalance());
    layersPanel_->view()->resizeColumnToContents(LayerTableModel::Equalized);
    statusBar()->showMessage(s->converged
                                 ? tr("Run converged after %n sweep(s)", nullptr, s->sweeps)
                                 : tr("Run did not converge"),
                             8000);
}

void MainWindow::connectVerification()
{
    verifyJob_ = new VerifyJob(this);
    connect(session_, &Session::runFinished, this, &MainWindow::startVerification);
    connect(session_, &Session::runStarted, this, &MainWindow::stopVerification);
    connect(session_, &Session::modelLoaded, this, &MainWindow::stopVerification);
    connect(verificationPanel_, &VerificationPanel::cancelRequested, verifyJob_,
            &VerifyJob::cancel);
    connect(verificationPanel_, &VerificationPanel::inputsChanged, this,
            &MainWindow::startVerification);
    connect(verifyJob_, &VerifyJob::finished, this, [this] {
        VerifyOutcome out = verifyJob_->takeOutcome();
        if (out.result)
            verificationPanel_->finished(*out.result);
        else if (out.unsupported)
            verificationPanel_->unsupported(out.error);
        else if (!out.cancelled)
            verificationPanel_->failed(out.error);
        else if (session_->hasResult())
            verificationPanel_->cancelled();
        else
            verificationPanel_->clear();
    });
}

void MainWindow::startVerification()
{
    if (!session_->hasResult() || !session_->model()) return;
    auto model = session_->model();
    VerifyInput input{model->path.toStdString(),
                      std::shared_ptr<const core::Model>(model, &model->model), session_->plan(),
                      session_->resultLayers(), verificationPanel_->inputsFile()};
    verificationPanel_->started();
    verifyJob_->start(std::move(input));
}

void MainWindow::stopVerification()
{
    verifyJob_->cancel();
    verificationPanel_->clear();
}

void MainWindow::showQuantization(const core::QuantizationReport* report)
{
    quantizationView_->setReport(report);
    const QString gain = quantizationView_->gainText();
    tabs_->setTabText(tabs_->indexOf(quantizationView_),
                      gain.isEmpty() ? tr("Quantization") : tr("Quantization (%1)").arg(gain));
}

void MainWindow::onLayerSelected(const QString& name)
{
    auto model = session_->model();
    if (!model) return;
    const int index = model->indexOf(name.toStdString());
    if (index < 0) return;
    channelPlot_->setLayer(name, model->stats[static_cast<size_t>(index)]);
    if (!session_->isRunning()) tabs_->setCurrentWidget(channelPlot_);
}

QString MainWindow::runNow()
{
    if (session_->isRunning()) return tr("A run is already going on.");
    const auto pairs = pairsPanel_->pairs();
    if (pairs.empty()) {
        return pairsPanel_->hasSuggestions()
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
                              runPanel_->continueFromResult());
}

void MainWindow::cancelRun()
{
    if (session_->isRunning()) {
        session_->cancelRun();
        statusBar()->showMessage(tr("Cancelling…"));
    }
}

void MainWindow::resetRun()
{
    if (session_->isRunning()) return;
    session_->reset();
    stopVerification();
    pairView_->setSummary(nullptr, false);
    showQuantization(nullptr);
    runPanel_->clearOutcome();
    layersPanel_->tableModel()->setEqualizedImbalance({});
    statusBar()->showMessage(tr("Back to the loaded weights"), 5000);
}

QString MainWindow::exportTo(const QString& weightsPath, const QString& reportPath, bool force)
{
    const core::Summary* s = session_->summary();
    if (!session_->hasResult() || !s) return tr("Run an equalization first.");
    if (!s->converged &&
        !Prompter::instance().confirm(
            this, tr("Export a run that did not converge?"),
            tr("The last run stopped after %n sweep(s) without converging (last delta %1, "
               "threshold %2). Export these weights anyway?",
               nullptr, s->sweeps)
                .arg(QString::number(s->lastDelta(), 'g', 3), QString::number(s->threshold, 'g', 3))))
        return tr("Export cancelled.");
    busyLabel_->setText(tr("Exporting %1…").arg(QFileInfo(weightsPath).fileName()));
    return session_->startExport(weightsPath, reportPath, force);
}

void MainWindow::promptExport()
{
    if (!session_->hasResult()) return;
    const QString path = Prompter::instance().saveFileName(
        this, tr("Export Equalized Weights"), kModelFilter,
        defaultExportName(session_->model()->path));
    if (path.isEmpty()) return;
    const QString report = reportAction_->isChecked() ? reportPathFor(path) : QString();
    // The file dialog has already asked about overwriting.
    const QString why = exportTo(path, report, true);
    if (!why.isEmpty() && why != tr("Export cancelled.")) showError(tr("Export"), why);
}

void MainWindow::promptOpen()
{
    const QString path = Prompter::instance().openFileName(this, tr("Open Weights"), kModelFilter);
    if (!path.isEmpty()) openFile(path);
}

void MainWindow::promptLoadPairs()
{
    const QString path = Prompter::instance().openFileName(this, tr("Load Pairs"),
                                                           tr("Pairs JSON (*.json)"));
    if (path.isEmpty()) return;
    const QString error = pairsPanel_->loadFile(path);
    if (!error.isEmpty()) showError(tr("Load pairs"), error);
}

void MainWindow::promptSavePairs()
{
    if (pairsPanel_->confirmedGroups().empty()) {
        showError(tr("Save pairs"), tr("There are no confirmed groups to save."));
        return;
    }
    const QString path = Prompter::instance().saveFileName(this, tr("Save Pairs"),
                                                           tr("Pairs JSON (*.json)"),
                                                           QStringLiteral("pairs.json"));
    if (path.isEmpty()) return;
    const QString error = pairsPanel_->saveFile(path);
    if (!error.isEmpty()) showError(tr("Save pairs"), error);
}

void MainWindow::rebuildRecentMenu()
{
    recentMenu_->clear();
    const QStringList files = RecentFiles::list();
    for (const QString& path : files) {
        recentMenu_->addAction(QFileInfo(path).fileName(), this, [this, path] {
            if (!QFileInfo::exists(path)) {
                RecentFiles::remove(path);
                showError(tr("Open recent"), tr("%1 no longer exists.").arg(path));
                return;
            }
            openFile(path);
        })->setToolTip(path);
    }
    if (files.isEmpty()) recentMenu_->addAction(tr("(none)"))->setEnabled(false);
    recentMenu_->addSeparator();
    recentMenu_->addAction(tr("Clear List"), this, [] { RecentFiles::clear(); });
}

void MainWindow::updateActions()
{
    const bool busy = session_->isBusy();
    const bool running = session_->isRunning();
    openAction_->setEnabled(!busy);
    runAction_->setEnabled(!busy && session_->model() && !pairsPanel_->pairs().empty());
    cancelAction_->setEnabled(running);
    resetAction_->setEnabled(!busy && session_->summary());
    exportAction_->setEnabled(!busy && session_->hasResult());
    loadPairsAction_->setEnabled(!busy && session_->model());
    savePairsAction_->setEnabled(!pairsPanel_->confirmedGroups().empty());
    runPanel_->setResultAvailable(!busy && session_->hasResult());
}

void MainWindow::showError(const QString& title, const QString& message)
{
    statusBar()->showMessage(message.section('\n', 0, 0), 10000);
    emit errorShown(message);
    Prompter::instance().error(this, title, message);
}

QList<PlotWidget*> MainWindow::plots() const
{
    return {pairView_->rangePlot(), pairView_->scalePlot(), pairView_->convergencePlot(),
            channelPlot_, quantizationView_->plot()};
}

void MainWindow::closeEvent(QCloseEvent* event)
{
    runPanel_->saveSettings();
    QSettings().setValue(QStringLiteral("export/report"), reportAction_->isChecked());
    // A job never outlives the window it reports to.
    session_->cancelRun();
    session_->waitForIdle();
    event->accept();
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event)
{
    const auto urls = event->mimeData()->urls();
    if (!urls.isEmpty() && urls.first().isLocalFile()) event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event)
{
    const auto urls = event->mimeData()->urls();
    if (urls.isEmpty() || !urls.first().isLocalFile()) return;
    event->acceptProposedAction();
    openFile(urls.first().toLocalFile());
}

}  // namespace cle::ui
