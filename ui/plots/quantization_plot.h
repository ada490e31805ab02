#pragma once
// INT8 weight quantization per layer: one horizontal bar per layer (the names readable on the
// vertical axis) with the change of its per-tensor SQNR, gains and losses in their own colours.
// Outliers (exact quantization, gains of 100+ dB) are clipped at a scale that keeps a few dB
// visible, drawn in a darker shade and labelled with their value.
#include <vector>

#include <QStringList>

#include "cle/core/quantization.h"
#include "ui/plots/plot_widget.h"

class QCPAbstractItem;
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
    /// The change shown is clipped to ±clipLimit() dB.
    double clipLimit() const { return limit_; }
    /// Layers whose change lies beyond the limit (drawn clipped and labelled).
    QStringList clippedLayers() const;
    /// The height the plot needs to give every layer a readable row.
    int neededHeight() const;

    /// Per-tensor change in dB of a layer, a collapsed state counting as 0 dB as in the summary
    /// figures (+inf / -inf / NaN as they come).
    static double gain(const core::LayerSqnr& layer);
    /// The clip limit for `gains`: 1.5 x the 90th percentile of the finite magnitudes (at least
    /// 3 dB), or just above the largest when nothing lies beyond that.
    static double clipLimitFor(const std::vector<double>& gains);

private:
    void showTip(QMouseEvent* event);

    std::vector<core::LayerSqnr> layers_;
    double limit_ = 0;
    QList<QCPAbstractItem*> labels_;
};

/// "31.2" for finite values, "∞" for exact quantization.
QString formatDb(double db);

}  // namespace cle::ui
