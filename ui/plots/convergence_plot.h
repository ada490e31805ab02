#pragma once
// Delta per sweep on a log axis, the threshold as a line, and a marker at the shown sweep.
#include <vector>

#include "ui/plots/plot_widget.h"

class QCPItemStraightLine;

namespace cle::ui {

class ConvergencePlot : public PlotWidget {
    Q_OBJECT
public:
    explicit ConvergencePlot(QWidget* parent = nullptr);

    void setData(const std::vector<float>& deltas, double threshold);
    /// Marks sweep k (0 hides the marker).
    void setMarker(int k);
    void clear(const QString& placeholder);
    QString csv() const override;

private:
    std::vector<float> deltas_;
    double threshold_ = 0;
    QCPItemStraightLine* thresholdLine_;
    QCPItemStraightLine* marker_;
};

}  // namespace cle::ui
