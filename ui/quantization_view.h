#pragma once
// The Quantization tab: what equalization buys for 8-bit deployment. First a warning naming the
// layers equalization collapsed (most weights round to zero), then a headline with the model-wide
// figures (median, worst, parameter-weighted mean; before → after), the per-layer bar chart and a
// sortable table.
#include <QWidget>

#include "cle/core/quantization.h"
#include "ui/loss_reasons.h"

class QLabel;
class QPushButton;
class QTableWidget;

namespace cle::ui {

class QuantizationPlot;

class QuantizationView : public QWidget {
    Q_OBJECT
public:
    explicit QuantizationView(QWidget* parent = nullptr);

    /// Shows `report` (null: no result, placeholder text).
    void setReport(const core::QuantizationReport* report);

    enum Column {
        Layer,
        Parameters,
        TensorBefore,
        TensorAfter,
        Gain,
        ChannelBefore,
        ChannelAfter,
        ZeroBefore,
        ZeroAfter,
        ZeroedBefore,
        ZeroedAfter,
        Collapsed,
        Reason,
        ColumnCount
    };

    /// Why layers got worse (set after setReport); fills the "Why worse" column.
    void setReasons(const std::vector<LossReason>& reasons);
    /// The reason shown for `layer` ("" when none).
    QString reasonText(const QString& layer) const;
    /// Selects `layer`'s row; with a loss there, "Drop pair and run again" is enabled.
    void selectLayer(const QString& layer);
    QPushButton* dropButton() const { return drop_; }
    /// A line comparing this run with the one before a pair was dropped ("" when none).
    void setComparison(const QString& text);
    QString comparisonText() const;

signals:
    /// The user wants the run again without this pair.
    void dropPairRequested(const QString& first, const QString& second);

public:
    QuantizationPlot* plot() const { return plot_; }
    QTableWidget* table() const { return table_; }
    /// The warning (when there is one) and the headline as plain text ("" without a result).
    QString summaryText() const;
    /// The warning above the headline naming the layers equalization collapsed ("" when none).
    QString warningText() const;
    /// "+12.8 dB": the per-tensor gain of the parameter-weighted mean, or "" without a result:
    /// for the tab title.
    QString gainText() const { return gain_; }

private:
    void setUpTable();
    void fillTable(const core::QuantizationReport& report);
    void fillCollapse(int row, const core::LayerSqnr& layer);
    const LossReason* reasonForRow(int row) const;
    void updateDropButton();

    QLabel* warning_;
    QLabel* headline_;
    QLabel* details_;
    QuantizationPlot* plot_;
    QTableWidget* table_;
    QPushButton* drop_;
    QLabel* comparison_;
    QString gain_;
    std::vector<LossReason> reasons_;
};

}  // namespace cle::ui
