#include "ui/layers_panel.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QVBoxLayout>

#include "ui/layer_table_model.h"

namespace cle::ui {

LayersPanel::LayersPanel(QWidget* parent)
    : QWidget(parent),
      model_(new LayerTableModel(this)),
      proxy_(new QSortFilterProxyModel(this)),
      view_(new QTableView(this)),
      filter_(new QLineEdit(this)),
      shown_(new QLabel(this)) {
    proxy_->setSourceModel(model_);
    proxy_->setSortRole(LayerTableModel::SortRole);
    proxy_->setFilterCaseSensitivity(Qt::CaseInsensitive);
    proxy_->setFilterKeyColumn(-1);

    filter_->setPlaceholderText(tr("Filter layers (name, kind, shape…)"));
    filter_->setClearButtonEnabled(true);
    connect(filter_, &QLineEdit::textChanged, this, [this](const QString& text) {
        proxy_->setFilterFixedString(text);
        updateShown();
    });
    shown_->hide();

    view_->setModel(proxy_);
    view_->setSortingEnabled(true);
    view_->sortByColumn(-1, Qt::AscendingOrder);  // file order until the user sorts
    view_->setSelectionBehavior(QAbstractItemView::SelectRows);
    view_->setSelectionMode(QAbstractItemView::SingleSelection);
    view_->setAlternatingRowColors(true);
    view_->setWordWrap(false);
    view_->setTextElideMode(Qt::ElideMiddle);  // long exported names differ at their ends
    view_->verticalHeader()->setVisible(false);
    view_->verticalHeader()->setDefaultSectionSize(view_->fontMetrics().height() + 6);
    view_->horizontalHeader()->setStretchLastSection(true);
    view_->setToolTip(tr("Double-click a layer to append it to the chain being built"));

    connect(view_->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
            [this](const QModelIndex& current) {
                if (current.isValid()) emit layerSelected(nameAt(current));
            });
    connect(view_, &QTableView::activated, this,
            [this](const QModelIndex& index) { emit layerActivated(nameAt(index)); });

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    auto* filterRow = new QHBoxLayout;
    filterRow->addWidget(filter_, 1);
    filterRow->addWidget(shown_);
    layout->addLayout(filterRow);
    layout->addWidget(view_);
}

QString LayersPanel::nameAt(const QModelIndex& proxyIndex) const {
    const QModelIndex source = proxy_->mapToSource(proxyIndex);
    return QString::fromStdString(model_->layerName(source.row()));
}

void LayersPanel::setModel(std::shared_ptr<const LoadedModel> model) {
    // A filter typed for the previous file would hide this one's layers.
    filter_->clear();
    model_->setModel(std::move(model));
    updateShown();
    view_->resizeColumnsToContents();
    // Names of exported graphs run to 60 characters and more: the kind, shape and channels stay
    // in view, and the elided name keeps its distinguishing end.
    const int nameWidth = view_->fontMetrics().averageCharWidth() * 34;
    if (view_->columnWidth(0) > nameWidth) view_->setColumnWidth(0, nameWidth);
    // Long kinds (SeparableConv2D/depthwise) would push the numbers out of view; the full text
    // is in the tooltip.
    const int kindWidth =
        view_->fontMetrics().horizontalAdvance(QStringLiteral("SeparableConv2D/pointwise")) + 12;
    if (view_->columnWidth(LayerTableModel::Kind) > kindWidth)
        view_->setColumnWidth(LayerTableModel::Kind, kindWidth);
}

QString LayersPanel::shownText() const { return shown_->isHidden() ? QString() : shown_->text(); }

void LayersPanel::updateShown() {
    const bool filtering = !filter_->text().isEmpty();
    shown_->setText(tr("%1 of %2 shown").arg(proxy_->rowCount()).arg(model_->rowCount()));
    shown_->setStyleSheet(proxy_->rowCount() == 0 ? QStringLiteral("color: #b3261e;") : QString());
    shown_->setVisible(filtering);
}

void LayersPanel::selectLayer(const QString& name) {
    for (int row = 0; row < model_->rowCount(); ++row) {
        if (QString::fromStdString(model_->layerName(row)) != name) continue;
        QModelIndex index = proxy_->mapFromSource(model_->index(row, 0));
        if (!index.isValid()) {
            filter_->clear();
            index = proxy_->mapFromSource(model_->index(row, 0));
        }
        view_->setCurrentIndex(index);
        view_->scrollTo(index);
        return;
    }
}

QString LayersPanel::selectedLayer() const {
    const QModelIndex current = view_->currentIndex();
    return current.isValid() ? nameAt(current) : QString();
}

}  // namespace cle::ui
