#pragma once
// The layer table: one row per layer of the loaded model.
#include <map>
#include <memory>
#include <string>

#include <QAbstractTableModel>

#include "ui/loaded_model.h"

namespace cle::ui {

/// True for a PyTorch kernel [C, 1, k, ...] with C > 1 that the file does not mark as
/// depthwise: such a layer is, in practice, a depthwise convolution.
bool inferredDepthwise(const core::LayerInfo& info);

class LayerTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { Name, Kind, Shape, Channels, Imbalance, Equalized, Layout, DType, Bias, Count };
    /// Role holding a value that sorts numerically where the column is numeric.
    static constexpr int SortRole = Qt::UserRole + 1;

    using QAbstractTableModel::QAbstractTableModel;

    void setModel(std::shared_ptr<const LoadedModel> model);
    /// Range imbalance of the equalized layers (empty clears the column).
    void setEqualizedImbalance(std::map<std::string, double> imbalance);
    std::string layerName(int row) const;
    /// The index into the model's layers of table row `row` (-1 when out of range).
    int layerIndex(int row) const;
    /// The row of layer `name`, -1 when absent.
    int rowOf(const std::string& name) const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

    static QString formatImbalance(double value);

private:
    QVariant toolTip(int column, const core::LayerInfo& info, const LayerStats& stats) const;

    std::shared_ptr<const LoadedModel> model_;
    std::map<std::string, double> equalized_;
};

}  // namespace cle::ui
