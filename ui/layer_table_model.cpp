#include "ui/layer_table_model.h"

#include <algorithm>
#include <climits>
#include <cmath>

#include <QBrush>
#include <QColor>
#include <QStringList>

namespace cle::ui {

bool inferredDepthwise(const core::LayerInfo& info) {
    // A PyTorch convolution [C, 1, k, ...] with C > 1 is, in practice, a depthwise one
    // (groups == C); the file alone cannot say, so it is marked as inferred.
    return !info.depthwise && info.layout == core::Layout::Torch && info.rank() >= 3 &&
           info.shape[1] == 1 && info.shape[0] > 1;
}

namespace {

QString shapeText(const std::vector<std::int64_t>& shape) {
    QStringList dims;
    for (auto d : shape) dims << QString::number(d);
    return QStringLiteral("[") + dims.join(QStringLiteral(", ")) + QStringLiteral("]");
}

QString channelsText(const core::LayerInfo& info) {
    if (info.rank() < 2) return QStringLiteral("—");
    if (info.depthwise) return QObject::tr("%1 (dw)").arg(info.outChannels());
    if (inferredDepthwise(info)) return QObject::tr("%1 (dw?)").arg(info.shape[0]);
    return QStringLiteral("%1 → %2").arg(info.inChannels()).arg(info.outChannels());
}

double imbalanceSortKey(double v) { return std::isfinite(v) ? v : 1e300; }

}  // namespace

QString LayerTableModel::formatImbalance(double value) {
    if (std::isnan(value)) return QStringLiteral("—");
    if (std::isinf(value)) return QStringLiteral("∞ (zero range)");
    return value >= 1000 ? QString::number(value, 'e', 2) : QString::number(value, 'f', 2);
}

void LayerTableModel::setModel(std::shared_ptr<const LoadedModel> model) {
    beginResetModel();
    model_ = std::move(model);
    equalized_.clear();
    endResetModel();
}

void LayerTableModel::setEqualizedImbalance(std::map<std::string, double> imbalance) {
    equalized_ = std::move(imbalance);
    if (rowCount() > 0) emit dataChanged(index(0, Equalized), index(rowCount() - 1, Equalized));
}

int LayerTableModel::layerIndex(int row) const {
    if (!model_ || row < 0 || row >= rowCount()) return -1;
    const auto& order = model_->displayOrder;
    return order.size() == model_->model.layers.size() ? order[size_t(row)] : row;
}

int LayerTableModel::rowOf(const std::string& name) const {
    for (int row = 0; row < rowCount(); ++row)
        if (layerName(row) == name) return row;
    return -1;
}

std::string LayerTableModel::layerName(int row) const {
    const int i = layerIndex(row);
    return i < 0 ? std::string() : model_->model.layers[static_cast<size_t>(i)].info.name;
}

int LayerTableModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() || !model_ ? 0 : static_cast<int>(model_->model.layers.size());
}

int LayerTableModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : Count;
}

QVariant LayerTableModel::toolTip(int column, const core::LayerInfo& info,
                                  const LayerStats& stats) const {
    if (column == Kind) return QString::fromStdString(info.kind);
    if (column == Channels && info.depthwise)
        return tr("Depthwise: one channel axis, both input and output");
    if (column == Channels && inferredDepthwise(info))
        return tr("Inferred depthwise: the shape [%1, 1, k, k] has one input channel per "
                  "output channel, which a PyTorch file stores for groups = %1")
            .arg(info.shape[0]);
    if (column == Imbalance && stats.nonFinite > 0)
        return tr("%n weight(s) are NaN or infinite: this layer cannot be equalized", nullptr,
                  int(std::min<std::int64_t>(stats.nonFinite, INT32_MAX)));
    if ((column == Imbalance || column == Equalized) && stats.valid)
        return stats.foldedBatchNorm.empty()
                   ? tr("Measured on the stored weights (no batch norm to fold)")
                   : tr("Measured with batch norm %1 folded in, as the run measures it; "
                        "the stored weights alone: %2")
                         .arg(QString::fromStdString(stats.foldedBatchNorm),
                              formatImbalance(stats.rawImbalance));
    if (!info.supported)
        return tr("Not equalizable: %1").arg(QString::fromStdString(info.unsupportedReason));
    return QString::fromStdString(info.weightPath);
}

QVariant LayerTableModel::data(const QModelIndex& index, int role) const {
    if (!model_ || !index.isValid()) return {};
    const auto row = static_cast<size_t>(layerIndex(index.row()));
    const core::LayerInfo& info = model_->model.layers[row].info;
    const LayerStats& stats = model_->stats[row];
    const auto eq = equalized_.find(info.name);
    const bool sort = role == SortRole;
    if (role == Qt::ToolTipRole) return toolTip(index.column(), info, stats);
    if (role == Qt::ForegroundRole && index.column() == Imbalance && stats.nonFinite > 0)
        return QBrush(QColor(0xb3, 0x26, 0x1e));
    if (role == Qt::ForegroundRole && !info.supported) return QBrush(QColor(130, 130, 130));
    if (role == Qt::TextAlignmentRole && index.column() >= Channels && index.column() <= Equalized)
        return int(Qt::AlignRight | Qt::AlignVCenter);
    if (role != Qt::DisplayRole && !sort) return {};
    switch (index.column()) {
        case Name:
            return QString::fromStdString(info.name);
        case Kind:
            return QString::fromStdString(info.kind);
        case Layout:
            return QString::fromStdString(core::toString(info.layout));
        case Shape:
            if (sort) {
                qlonglong n = 1;
                for (auto d : info.shape) n *= d;
                return n;
            }
            return shapeText(info.shape);
        case DType:
            return QString::fromStdString(core::toString(info.dtype));
        case Bias:
            return info.hasBias() ? tr("yes") : tr("no");
        case Channels:
            if (sort) return info.rank() >= 2 ? qlonglong(info.outChannels()) : qlonglong(0);
            return channelsText(info);
        case Imbalance:
            if (stats.nonFinite > 0)
                return sort ? QVariant(1e301) : QVariant(tr("NaN/inf weights"));
            if (!stats.valid) return sort ? QVariant(-1.0) : QVariant(QStringLiteral("—"));
            return sort ? QVariant(imbalanceSortKey(stats.imbalance))
                        : QVariant(formatImbalance(stats.imbalance));
        case Equalized:
            if (eq == equalized_.end()) return sort ? QVariant(-1.0) : QVariant(QString());
            return sort ? QVariant(imbalanceSortKey(eq->second))
                        : QVariant(formatImbalance(eq->second));
        default:
            return {};
    }
}

QVariant LayerTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal) return {};
    if (role == Qt::ToolTipRole) {
        if (section == Imbalance)
            return tr(
                "Largest / smallest per-output-channel range (max − min) of the loaded "
                "weights, with the batch norm that follows the layer folded in (as a run "
                "measures them); the tooltip gives the stored weights' value");
        if (section == Equalized)
            return tr("Range imbalance after the last run, on the same basis (batch norm folded)");
        if (section == Channels) return tr("Input → output channels");
        return {};
    }
    if (role != Qt::DisplayRole) return {};
    switch (section) {
        case Name:
            return tr("Name");
        case Kind:
            return tr("Kind");
        case Layout:
            return tr("Layout");
        case Shape:
            return tr("Shape");
        case DType:
            return tr("Dtype");
        case Bias:
            return tr("Bias");
        case Channels:
            return tr("Channels");
        case Imbalance:
            return tr("Imbalance");
        case Equalized:
            return tr("After");
        default:
            return {};
    }
}

}  // namespace cle::ui
