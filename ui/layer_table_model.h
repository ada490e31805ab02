#pragma once
// The layer table: one row per layer of the loaded model.
#include <map>
#include <memory>
#include <string>

#include <QAbstractTableModel>

#include "ui/loaded_model.h"

namespace cle::ui {

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

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

    static QString formatImbalance(double value);

private:
    std::shared_ptr<const LoadedModel> model_;
    std::map<std::string, double> equalized_;
};

}  // namespace cle::ui
