#pragma once
// The filterable, sortable layer table.
#include <memory>

#include <QWidget>

#include "ui/loaded_model.h"

class QLabel;
class QLineEdit;
class QSortFilterProxyModel;
class QTableView;

namespace cle::ui {

class LayerTableModel;

class LayersPanel : public QWidget {
    Q_OBJECT
public:
    explicit LayersPanel(QWidget* parent = nullptr);

    void setModel(std::shared_ptr<const LoadedModel> model);
    LayerTableModel* tableModel() const { return model_; }
    QTableView* view() const { return view_; }
    QLineEdit* filterEdit() const { return filter_; }
    /// Selects the layer's row (clearing the filter if it hides it).
    void selectLayer(const QString& name);
    QString selectedLayer() const;
    /// "3 of 97 shown" while a filter is typed, "" otherwise.
    QString shownText() const;

signals:
    void layerSelected(const QString& name);
    /// Double-click or Enter: the user wants this layer in the chain being built.
    void layerActivated(const QString& name);

private:
    QString nameAt(const QModelIndex& proxyIndex) const;
    void updateShown();

    LayerTableModel* model_;
    QSortFilterProxyModel* proxy_;
    QTableView* view_;
    QLineEdit* filter_;
    QLabel* shown_;
};

}  // namespace cle::ui
