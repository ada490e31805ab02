#pragma once
// The Quantization tab: what equalization buys for 8-bit deployment. A headline with the
// model-wide figures (median, worst, parameter-weighted mean; before → after), the per-layer bar
// chart and a sortable table.
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
                  ChannelAfter, ColumnCount };

    QuantizationPlot* plot() const { return plot_; }
    QTableWidget* table() const { return table_; }
    /// The headline as plain text ("" without a result).
    QString summaryText() const;
    /// "+12.8 dB" median per-tensor gain, or "" without a result: for the tab title.
    QString gainText() const { return gain_; }

private:
    void fillTable(const core::QuantizationReport& report);

    QLabel* headline_;
    QLabel* details_;
    QuantizationPlot* plot_;
    QTableWidget* table_;
    QString gain_;
};

}  // namespace cle::ui
