// The main window's actions, menus and dialogs (file prompts, recent files, shortcuts that
// fields would otherwise take).
#include <QAction>
#include <QApplication>
#include <QDir>
#include <QFileInfo>
#include <QKeyEvent>
#include <QMenuBar>
#include <QSettings>
#include <QStyle>
#include <QToolBar>

#include "ui/export_names.h"
#include "ui/help_text.h"
#include "ui/main_window.h"
#include "ui/pairs_panel.h"
#include "ui/plots/plot_widget.h"
#include "ui/prompter.h"
#include "ui/recent_files.h"
#include "ui/sample_model.h"
#include "ui/session.h"

namespace cle::ui {

namespace {
const QString kModelFilter =
    QObject::tr("Weights (*.h5 *.hdf5 *.weights.h5 *.keras *.weights.json *.onnx);;All files (*)");
}  // namespace

void MainWindow::createActions() {
    auto* st = style();
    openAction_ = new QAction(st->standardIcon(QStyle::SP_DialogOpenButton), tr("&Open…"), this);
    openAction_->setShortcut(QKeySequence::Open);
    connect(openAction_, &QAction::triggered, this, &MainWindow::promptOpen);
    exportAction_ = new QAction(st->standardIcon(QStyle::SP_DialogSaveButton),
                                tr("&Export Equalized Weights…"), this);
    exportAction_->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_E));
    exportAction_->setIconText(tr("Export…"));
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

void MainWindow::createMenus() {
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
    helpActions_ << help->addAction(tr("&Keyboard Shortcuts"), this, [this] {
        Prompter::instance().information(this, tr("Keyboard shortcuts"), shortcutsHelp());
    });
    helpActions_ << help->addAction(tr("How to Read the &Plots"), this, [this] {
        Prompter::instance().information(this, tr("How to read the plots"), plotsHelp());
    });
    help->addSeparator();
    help->addAction(tr("&About CLE Studio"), this, [this] {
        Prompter::instance().error(
            this, tr("About CLE Studio"),
            tr("CLE Studio %1\nCross-layer equalization of neural-network weights (Nagel et al., "
               "2019), with the numerics of PyTorch's reference implementation.")
                .arg(QStringLiteral(CLE_VERSION)));
    });

    QToolBar* bar = addToolBar(tr("Main"));
    bar->setObjectName(QStringLiteral("mainToolBar"));
    // Icons only: the run settings share the row and must fit a 1280-pixel screen.
    bar->setToolButtonStyle(Qt::ToolButtonIconOnly);
    bar->setMovable(false);
    bar->addAction(openAction_);
    bar->addAction(exportAction_);
}

void MainWindow::promptExport() {
    if (!session_->hasResult()) return;
    const QString path =
        Prompter::instance().saveFileName(this, tr("Export Equalized Weights"), kModelFilter,
                                          defaultExportName(session_->model()->path));
    if (path.isEmpty()) return;
    const QString report = reportAction_->isChecked() ? reportPathFor(path) : QString();
    // The file dialog has already asked about overwriting.
    bool declined = false;
    const QString why = startExport(path, report, true, declined);
    if (!why.isEmpty() && !declined) showError(tr("Export"), why);
}

void MainWindow::promptOpen() {
    const QString path = Prompter::instance().openFileName(this, tr("Open Weights"), kModelFilter);
    if (!path.isEmpty()) openFile(path);
}

void MainWindow::promptLoadPairs() {
    const QString path =
        Prompter::instance().openFileName(this, tr("Load Pairs"), tr("Pairs JSON (*.json)"));
    if (path.isEmpty()) return;
    const QString error = session_->pairList()->loadFile(path);
    if (!error.isEmpty()) showError(tr("Load pairs"), error);
}

void MainWindow::promptSavePairs() {
    if (session_->pairList()->confirmedGroups().empty()) {
        showError(tr("Save pairs"), tr("There are no confirmed groups to save."));
        return;
    }
    const QString path = Prompter::instance().saveFileName(
        this, tr("Save Pairs"), tr("Pairs JSON (*.json)"), QStringLiteral("pairs.json"));
    if (path.isEmpty()) return;
    const QString error = session_->pairList()->saveFile(path);
    if (!error.isEmpty()) showError(tr("Save pairs"), error);
}

void MainWindow::rebuildRecentMenu() {
    recentMenu_->clear();
    const QStringList files = RecentFiles::list();
    for (const QString& path : files) {
        recentMenu_
            ->addAction(recentEntryText(path), this,
                        [this, path] {
                            if (!QFileInfo::exists(path)) {
                                RecentFiles::remove(path);
                                showError(tr("Open recent"), tr("%1 no longer exists.").arg(path));
                                return;
                            }
                            openFile(path);
                        })
            ->setToolTip(path);
    }
    if (files.isEmpty()) recentMenu_->addAction(tr("(none)"))->setEnabled(false);
    recentMenu_->addSeparator();
    recentMenu_->addAction(tr("Clear List"), this, [] { RecentFiles::clear(); });
}

QString MainWindow::recentEntryText(const QString& path) {
    const QFileInfo info(path);
    return tr("%1   (%2)").arg(info.fileName(), QDir::toNativeSeparators(info.absolutePath()));
}

bool MainWindow::eventFilter(QObject* watched, QEvent* event) {
    if (event->type() == QEvent::ShortcutOverride) {
        auto* key = static_cast<QKeyEvent*>(event);
        const QKeySequence pressed(key->keyCombination());
        if (pressed == exportAction_->shortcut() && exportAction_->isEnabled() &&
            qobject_cast<QWidget*>(watched) && isAncestorOf(static_cast<QWidget*>(watched))) {
            // Not overridden: the shortcut map gets the key and triggers Export.
            event->ignore();
            return true;
        }
    }
    return QMainWindow::eventFilter(watched, event);
}

}  // namespace cle::ui
