#pragma once
// The Quantization tab: what equalization buys for 8-bit deployment. First a warning naming the
// layers equalization collapsed (most weights round to zero), then a headline with the model-wide
// figures (median, worst, parameter-weighted mean; before → after), the per-layer bar chart and a
// sortable table.
#include <QWidget>

#include "cle/core/quantization.h"

class QLabel;
class QTableWidget;

namespace cle::ui {

class QuantizationPlot;

class QuantizationView : public QWidget {
    Q_OBJECT
public:
    explicit QuantizationView(QWidget* parent = nullptr);

    /// Shows `report` (null: no result, placeholder text).
    void setReport(const core::QuantizationReport* report);

    enum Column { Layer, Parameters, TensorBefore, TensorAfter, Gain, ChannelBefore,
                  ChannelAfter, ZeroBefore, ZeroAfter, ZeroedBefore, ZeroedAfter, Collapsed,
                  ColumnCount };

    QuantizationPlot* plot() const { return plot_; }
    QTableWidget* table() const { return table_; }
    /// The warning (when there is one) and the headline as plain text ("" without a result).
    QString summaryText() const;
    /// The warning above the headline naming the layers equalization collapsed ("" when none).
    QString warningText() const;
    /// "+12.8 dB" median per-tensor gain, or "" without a result: for the tab title.
    QString gainText() const { return gain_; }

private:
    void fillTable(const core::QuantizationReport& report);
    void fillCollapse(int row, const core::LayerSqnr& layer);

    QLabel* warning_;
    QLabel* headline_;
    QLabel* details_;
    QuantizationPlot* plot_;
    QTableWidget* table_;
    QString gain_;
};

}  // namespace cle::ui
