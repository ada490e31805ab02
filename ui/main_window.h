#pragma once
// The main window: wires the session (model, run, export) to the panels and plots. Every user
// command is also a public method so tests can drive the window without dialogs.
#include <memory>

#include <QMainWindow>

class QAction;
class QLabel;
class QMenu;
class QProgressBar;
class QSplitter;
class QTabWidget;

namespace cle::core {
struct QuantizationReport;
}

namespace cle::ui {

class ChannelStatsPlot;
class GraphView;
class LayersPanel;
class PairView;
class PairsPanel;
class PlotWidget;
class QuantizationView;
class RunPanel;
class Session;
class VerificationPanel;
class VerifyJob;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    /// Loads `path` in the background; false when busy.
    bool openFile(const QString& path);
    /// Starts a run of the confirmed groups; returns why it cannot start ("" when started).
    QString runNow();
    void cancelRun();
    void resetRun();
    /// Drops the pair first → second from the accepted groups and runs again; the Quantization
    /// tab then compares with the run before. Returns why it cannot ("" when started).
    QString dropPairAndRun(const QString& first, const QString& second);
    /// Exports without dialogs (the non-converged warning still goes through the Prompter).
    /// Returns why it cannot start ("" when started; exportFinished/exportFailed follow).
    QString exportTo(const QString& weightsPath, const QString& reportPath = {},
                     bool force = false);

    Session* session() const { return session_; }
    LayersPanel* layersPanel() const { return layersPanel_; }
    PairsPanel* pairsPanel() const { return pairsPanel_; }
    RunPanel* runPanel() const { return runPanel_; }
    PairView* pairView() const { return pairView_; }
    ChannelStatsPlot* channelPlot() const { return channelPlot_; }
    QuantizationView* quantizationView() const { return quantizationView_; }
    GraphView* graphView() const { return graphView_; }
    QTabWidget* tabs() const { return tabs_; }
    VerificationPanel* verificationPanel() const { return verificationPanel_; }
    VerifyJob* verifyJob() const { return verifyJob_; }
    QAction* exportAction() const { return exportAction_; }
    QAction* runAction() const { return runAction_; }
    QAction* cancelAction() const { return cancelAction_; }
    /// The Help menu's entries: keyboard shortcuts and how to read the plots.
    QList<QAction*> helpActions() const { return helpActions_; }
    /// The text of an Open Recent entry: the file name and its folder.
    static QString recentEntryText(const QString& path);
    QList<PlotWidget*> plots() const;
    /// The splitters whose positions the window remembers (main, left column, plots/messages).
    QList<QSplitter*> splitters() const;

    /// The folder of the last file opened, where the Open dialog starts.
    static QString lastFolder();

signals:
    /// Every error shown to the user, also when the Prompter shows no dialog.
    void errorShown(const QString& message);

protected:
    void closeEvent(QCloseEvent* event) override;
    /// Lets the window's shortcuts (Ctrl+E) through while a line edit or spin box has the
    /// focus, which would otherwise take them as editing keys.
    bool eventFilter(QObject* watched, QEvent* event) override;
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    /// exportTo's work: `declined` is set when the user declined the non-converged warning.
    QString startExport(const QString& weightsPath, const QString& reportPath, bool force,
                        bool& declined);
    void createActions();
    void createMenus();
    QWidget* createCentralArea();
    void connectPanels();
    void restoreLayout();
    void saveLayout() const;
    void connectSession();
    void showError(const QString& title, const QString& message);
    void updateActions();
    void rebuildRecentMenu();
    void promptOpen();
    void promptExport();
    void promptLoadPairs();
    void promptSavePairs();
    void onModelLoaded();
    void onLayerSelected(const QString& name);
    void onGraphNodeSelected(const QString& name);
    /// Plots `name`'s channels (and after a run its equalized ones); false when no such layer.
    bool showLayerChannels(const QString& name);
    void updateGraphPairs();
    void onRunFinished();
    void showQuantization(const core::QuantizationReport* report);
    void connectVerification();
    void startVerification();
    void stopVerification();

    Session* session_;
    LayersPanel* layersPanel_ = nullptr;
    PairsPanel* pairsPanel_ = nullptr;
    RunPanel* runPanel_ = nullptr;
    PairView* pairView_ = nullptr;
    ChannelStatsPlot* channelPlot_ = nullptr;
    QuantizationView* quantizationView_ = nullptr;
    GraphView* graphView_ = nullptr;
    QTabWidget* tabs_ = nullptr;
    VerificationPanel* verificationPanel_ = nullptr;
    VerifyJob* verifyJob_ = nullptr;
    QSplitter* mainSplit_ = nullptr;
    QSplitter* leftSplit_ = nullptr;
    QSplitter* rightSplit_ = nullptr;
    QProgressBar* busy_ = nullptr;
    QLabel* busyLabel_ = nullptr;
    QMenu* recentMenu_ = nullptr;
    QAction* openAction_ = nullptr;
    QAction* exportAction_ = nullptr;
    QAction* reportAction_ = nullptr;
    QAction* runAction_ = nullptr;
    QAction* cancelAction_ = nullptr;
    QAction* resetAction_ = nullptr;
    QAction* loadPairsAction_ = nullptr;
    QAction* savePairsAction_ = nullptr;
    QList<QAction*> helpActions_;
    bool exported_ = false;  ///< the current result has been exported
    /// The run before a pair was dropped, to compare the next one with.
    struct Comparison {
        std::shared_ptr<const core::QuantizationReport> before;
        QString pair;
    } comparison_;
};

}  // namespace cle::ui
