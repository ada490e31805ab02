#pragma once
// INT8 weight quantization per layer: grouped bars of the per-tensor SQNR before and after
// equalization, with the per-channel SQNR after as a marker for comparison.
#include <vector>

#include "cle/core/quantization.h"
#include "ui/plots/plot_widget.h"

class QMouseEvent;

namespace cle::ui {

class QuantizationPlot : public PlotWidget {
    Q_OBJECT
public:
    explicit QuantizationPlot(QWidget* parent = nullptr);

    void setReport(const core::QuantizationReport& report);
    void clear(const QString& placeholder);
    QString csv() const override;
    /// Layers shown, in order.
    int layerCount() const { return static_cast<int>(layers_.size()); }

private:
    void showTip(QMouseEvent* event);

    std::vector<core::LayerSqnr> layers_;
};

/// "31.2" for finite values, "∞" for exact quantization.
QString formatDb(double db);

}  // namespace cle::ui
