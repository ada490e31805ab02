#pragma once
// The per-channel ranges of one pair: the first layer's output channels and the second layer's
// input channels, before equalization (dashed) and after sweep k (solid).
#include <vector>

#include "cle/core/equalizer.h"
#include "ui/plots/plot_widget.h"

namespace cle::ui {

class RangePlot : public PlotWidget {
    Q_OBJECT
public:
    explicit RangePlot(QWidget* parent = nullptr);

    /// Shows states[0] and states[index] of `pair`; `order[i]` is the channel drawn at x = i.
    /// `sweep` is the sweep whose state states[index] is, `lastSweep` that of the newest state
    /// (a long run keeps a thinned set of states); negative: the index itself, as many states.
    void setData(const core::PairHistory& pair, int index, const std::vector<int>& order,
                 int sweep = -1, int lastSweep = -1);
    void clear(const QString& placeholder);
    void setLogY(bool log);
    bool logY() const { return logY_; }
    /// While a run is live, dense data are drawn with thin lines only (cheap replots); the
    /// next setData() after it ends draws the full style.
    void setLive(bool live) { live_ = live; }

    /// What is drawn (by x position): for tests and CSV.
    const std::vector<double>& beforeOut() const { return beforeOut_; }
    const std::vector<double>& afterOut() const { return afterOut_; }
    const std::vector<double>& afterIn() const { return afterIn_; }
    int sweep() const { return k_; }
    QString csv() const override;

private:
    void showTip(QMouseEvent* event);

    bool logY_ = false;
    bool live_ = false;
    int k_ = 0;
    std::string first_, second_;
    std::vector<int> order_;
    std::vector<double> beforeOut_, beforeIn_, afterOut_, afterIn_, scale_;
};

}  // namespace cle::ui
