#pragma once
// Everything about the run of the selected pair: the pair chooser, the sweep slider and spin box
// (every recorded state, following a live run), and the range, scale and convergence plots plus
// the per-pair summary.
#include <vector>

#include <QWidget>

#include "cle/core/equalizer.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QSlider;
class QSpinBox;

namespace cle::ui {

class ConvergencePlot;
class RangePlot;
class ScalePlot;
class SummaryTable;

class PairView : public QWidget {
    Q_OBJECT
public:
    explicit PairView(QWidget* parent = nullptr);
    /// The height below which no plot of the view shrinks (the view scrolls instead).
    static constexpr int kMinPlotHeight = 250;

    /// Shows `summary` (owned by the caller, may be null) after it changed. While `live`, the
    /// slider follows the newest sweep unless the user moved it back.
    void setSummary(const core::Summary* summary, bool live);
    void setPair(int index);
    int pair() const;
    /// The sweep of the shown state (0 = before the first sweep). The slider runs over the
    /// recorded states (every sweep, or an evenly thinned set in a long run), the spin box over
    /// their sweep numbers.
    int sweep() const;
    /// Shows the last recorded state at or before sweep k.
    void setSweep(int k);
    void setLogY(bool log);
    void setSortByRange(bool sort);

    QSlider* slider() const { return slider_; }
    QSpinBox* spin() const { return spin_; }
    QComboBox* pairBox() const { return pairBox_; }
    RangePlot* rangePlot() const { return rangePlot_; }
    ScalePlot* scalePlot() const { return scalePlot_; }
    ConvergencePlot* convergencePlot() const { return convergencePlot_; }
    SummaryTable* summaryTable() const { return summaryTable_; }

private:
    void refreshPairList();
    void refreshPlots();
    void onSweepChosen(int index);
    void onSpinChosen(int k);
    /// The sweep of recorded state `index` of the summary shown.
    int sweepOf(int index) const;
    std::vector<int> channelOrder(const core::PairHistory& pair) const;
    /// Entry `index` of the chooser: the pairs, then the regions (shown as a pair of the
    /// sources' largest output ranges and the sinks' largest input ranges per region channel).
    const core::PairHistory* history(int index);
    QString label(int index) const;

    const core::Summary* summary_ = nullptr;
    core::PairHistory regionShown_;  ///< the chosen region in the form the plots take
    bool follow_ = true;
    int shownSweep_ = 0;  ///< the sweep of the state shown
    QComboBox* pairBox_;
    QSlider* slider_;
    QSpinBox* spin_;
    QLabel* sweepLabel_;
    QCheckBox* logBox_;
    QCheckBox* sortBox_;
    RangePlot* rangePlot_;
    ScalePlot* scalePlot_;
    ConvergencePlot* convergencePlot_;
    SummaryTable* summaryTable_;
};

}  // namespace cle::ui
