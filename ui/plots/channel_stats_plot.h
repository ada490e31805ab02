#pragma once
// Per-output-channel min, max and range of one layer.
#include "ui/loaded_model.h"
#include "ui/plots/plot_widget.h"

namespace cle::ui {

class ChannelStatsPlot : public PlotWidget {
    Q_OBJECT
public:
    explicit ChannelStatsPlot(QWidget* parent = nullptr);

    void setLayer(const QString& name, const LayerStats& stats);
    void clear();
    QString layerName() const { return name_; }
    QString csv() const override;

private:
    QString name_;
    LayerStats stats_;
};

}  // namespace cle::ui
