#pragma once
// The cumulative per-channel scale factors s of one pair (first layer's output channel c divided
// by s[c], second layer's input channel c multiplied by it).
#include <vector>

#include "cle/core/equalizer.h"
#include "ui/plots/plot_widget.h"

namespace cle::ui {

class ScalePlot : public PlotWidget {
    Q_OBJECT
public:
    explicit ScalePlot(QWidget* parent = nullptr);

    void setData(const core::PairHistory& pair, const std::vector<int>& order);
    void clear(const QString& placeholder);
    QString csv() const override;

private:
    std::vector<int> order_;
    std::vector<double> scale_;
    std::vector<bool> dead_;
};

}  // namespace cle::ui
