#include "ui/startup.h"

#include <exception>

#include <QApplication>
#include <QCommandLineParser>
#include <QPixmap>
#include <QTabWidget>
#include <QTimer>

#include "cle/core/pairs.h"
#include "ui/graph_view.h"
#include "ui/main_window.h"
#include "ui/pair_groups.h"
#include "ui/pair_view.h"
#include "ui/pairs_panel.h"
#include "ui/plots/channel_stats_plot.h"
#include "ui/quantization_view.h"
#include "ui/sample_model.h"
#include "ui/session.h"
#include "ui/verify_job.h"

namespace cle::ui {

bool parseStartupOptions(const QStringList& arguments, StartupOptions& options, QString& message) {
    QCommandLineParser parser;
    parser.setApplicationDescription(
        QObject::tr("Inspect and run cross-layer equalization of neural-network weights."));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument(QStringLiteral("file"),
                                 QObject::tr("Weights to open (default: the bundled sample)."),
                                 QStringLiteral("[FILE]"));
    const QCommandLineOption pairs(QStringLiteral("pairs"),
                                   QObject::tr("Groups to equalize, e.g. \"a,b,c;d,e\"."),
                                   QStringLiteral("groups"));
    const QCommandLineOption suggest(QStringLiteral("suggest"),
                                     QObject::tr("Accept the chains the layer graph suggests."));
    const QCommandLineOption run(QStringLiteral("run"), QObject::tr("Run once loaded."));
    const QCommandLineOption showPair(QStringLiteral("show-pair"),
                                      QObject::tr("Index of the pair to show (0-based)."),
                                      QStringLiteral("index"));
    const QCommandLineOption logY(QStringLiteral("log-y"), QObject::tr("Log-scale range axis."));
    const QCommandLineOption sort(QStringLiteral("sort"),
                                  QObject::tr("Sort channels by original range."));
    const QCommandLineOption screenshot(
        QStringLiteral("screenshot"),
        QObject::tr("Save the window to this PNG when done, then quit."), QStringLiteral("png"));
    const QCommandLineOption tab(
        QStringLiteral("tab"),
        QObject::tr("Tab to show after the run: equalization, channels, quantization or graph."),
        QStringLiteral("name"));
    const QCommandLineOption size(QStringLiteral("size"), QObject::tr("Window size WxH."),
                                  QStringLiteral("WxH"));
    parser.addOptions({pairs, suggest, run, showPair, logY, sort, tab, screenshot, size});
    if (!parser.parse(arguments)) {
        message = parser.errorText();
        return false;
    }
    if (parser.isSet(QStringLiteral("help"))) {
        message = parser.helpText();
        return false;
    }
    if (parser.isSet(QStringLiteral("version"))) {
        message = QStringLiteral("cle-studio %1").arg(QStringLiteral(CLE_VERSION));
        return false;
    }
    const QStringList positional = parser.positionalArguments();
    if (positional.size() > 1) {
        message = QObject::tr("Give at most one file.");
        return false;
    }
    options.file = positional.value(0);
    options.pairs = parser.value(pairs);
    options.suggest = parser.isSet(suggest);
    options.run = parser.isSet(run);
    options.showPair = parser.isSet(showPair) ? parser.value(showPair).toInt() : -1;
    options.logY = parser.isSet(logY);
    options.sortByRange = parser.isSet(sort);
    options.tab = parser.value(tab).toLower();
    const QStringList tabs{QString(), QStringLiteral("equalization"), QStringLiteral("channels"),
                           QStringLiteral("quantization"), QStringLiteral("graph")};
    if (!tabs.contains(options.tab)) {
        message = QObject::tr(
                      "Unknown tab \"%1\": use equalization, channels, quantization or "
                      "graph.")
                      .arg(options.tab);
        return false;
    }
    options.screenshot = parser.value(screenshot);
    if (parser.isSet(size)) {
        const QStringList wh = parser.value(size).split('x');
        if (wh.size() == 2) options.size = QSize(wh[0].toInt(), wh[1].toInt());
    }
    return true;
}

namespace {

void showTab(MainWindow* window, const QString& tab) {
    QWidget* page = nullptr;
    if (tab == QLatin1String("channels")) page = window->channelPlot();
    if (tab == QLatin1String("quantization")) page = window->quantizationView();
    if (tab == QLatin1String("equalization")) page = window->pairView();
    if (tab == QLatin1String("graph")) page = window->graphView();
    if (page) window->tabs()->setCurrentWidget(page);
}

void saveAndQuit(MainWindow* window, const QString& path) {
    // Let queued replots and layouts settle before grabbing.
    QTimer::singleShot(600, window, [window, path] {
        const bool ok = window->grab().save(path);
        QApplication::exit(ok ? 0 : 1);
    });
}

}  // namespace

void applyStartupOptions(MainWindow& window, const StartupOptions& options) {
    MainWindow* w = &window;
    if (options.size.isValid()) w->resize(options.size);
    const StartupOptions o = options;
    QObject::connect(
        w->session(), &Session::modelLoaded, w,
        [w, o] {
            if (!o.pairs.isEmpty()) {
                try {
                    const QString problems = w->session()->pairList()->setGroups(
                        core::parseGroups(o.pairs.toStdString()));
                    if (!problems.isEmpty()) qWarning("%s", qPrintable(problems));
                } catch (const std::exception& e) {
                    qWarning("%s", e.what());
                }
            } else if (o.suggest) {
                w->session()->pairList()->suggest();
                w->session()->pairList()->confirmAll();
            }
            w->pairView()->setLogY(o.logY);
            w->pairView()->setSortByRange(o.sortByRange);
            if (o.run) {
                const QString why = w->runNow();
                if (!why.isEmpty()) {
                    qWarning("%s", qPrintable(why));
                    if (!o.screenshot.isEmpty()) saveAndQuit(w, o.screenshot);
                }
            } else if (!o.screenshot.isEmpty()) {
                saveAndQuit(w, o.screenshot);
            }
        },
        Qt::SingleShotConnection);
    if (!o.screenshot.isEmpty()) {
        auto done = [w, o] {
            if (o.showPair >= 0) w->pairView()->setPair(o.showPair);
            showTab(w, o.tab);
            // The picture shows the network check's verdict, not its progress bar.
            if (w->verifyJob()->isRunning())
                QObject::connect(
                    w->verifyJob(), &VerifyJob::finished, w,
                    [w, o] { saveAndQuit(w, o.screenshot); }, Qt::SingleShotConnection);
            else
                saveAndQuit(w, o.screenshot);
        };
        QObject::connect(w->session(), &Session::runFinished, w, done, Qt::SingleShotConnection);
        QObject::connect(w->session(), &Session::runFailed, w, done, Qt::SingleShotConnection);
        QObject::connect(
            w->session(), &Session::loadFailed, w, [w, o] { saveAndQuit(w, o.screenshot); },
            Qt::SingleShotConnection);
    } else if (o.showPair >= 0 || !o.tab.isEmpty()) {
        QObject::connect(
            w->session(), &Session::runFinished, w,
            [w, o] {
                if (o.showPair >= 0) w->pairView()->setPair(o.showPair);
                showTab(w, o.tab);
            },
            Qt::SingleShotConnection);
    }
    const QString file = o.file.isEmpty() ? sampleModelPath() : o.file;
    if (file.isEmpty()) {
        qWarning("The bundled sample model was not found; use File > Open.");
        return;
    }
    window.openFile(file);
}

}  // namespace cle::ui
