#pragma once
// Per-output-channel min, max and range of one layer.
#include "ui/loaded_model.h"
#include "ui/plots/plot_widget.h"

namespace cle::ui {

class ChannelStatsPlot : public PlotWidget {
    Q_OBJECT
public:
    explicit ChannelStatsPlot(QWidget* parent = nullptr);

    /// Shows a layer's channels; with `equalized`, also its range after the last run.
    void setLayer(const QString& name, const LayerStats& stats,
                  const LayerStats* equalized = nullptr);
    /// Whether the range after the last run is shown.
    bool showsEqualized() const;
    void clear();
    QString layerName() const { return name_; }
    QString csv() const override;

private:
    QString name_;
    LayerStats stats_;
};

}  // namespace cle::ui
