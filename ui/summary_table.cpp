#include "ui/summary_table.h"

#include <QHeaderView>
#include <QStringList>

#include "ui/layer_table_model.h"

namespace cle::ui {

namespace {

QTableWidgetItem* cell(const QString& text, bool number = false) {
    auto* it = new QTableWidgetItem(text);
    it->setFlags(Qt::ItemIsSelectable | Qt::ItemIsEnabled);
    if (number) it->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    return it;
}

QString channels(const std::vector<int>& list) {
    if (list.empty()) return QStringLiteral("0");
    QStringList parts;
    for (size_t i = 0; i < list.size() && i < 6; ++i) parts << QString::number(list[i]);
    if (list.size() > 6) parts << QStringLiteral("…");
    return QStringLiteral("%1 (%2)").arg(list.size()).arg(parts.join(QStringLiteral(", ")));
}

/// "1 (4: ×2.28e+04)": channels whose bias grew past the limit, with their amplification.
QString amplified(const std::vector<core::AmplifiedChannel>& list) {
    if (list.empty()) return QStringLiteral("0");
    QStringList parts;
    for (size_t i = 0; i < list.size() && i < 4; ++i)
        parts
            << QStringLiteral("%1: ×%2").arg(list[i].channel).arg(list[i].amplification, 0, 'g', 3);
    if (list.size() > 4) parts << QStringLiteral("…");
    return QStringLiteral("%1 (%2)").arg(list.size()).arg(parts.join(QStringLiteral(", ")));
}

}  // namespace

SummaryTable::SummaryTable(QWidget* parent) : QTableWidget(parent) {
    const QStringList headers = {
        tr("Pair"),   tr("Channels"),      tr("Imbalance before"), tr("Imbalance after"),
        tr("Sweeps"), tr("Dead channels"), tr("Constant inputs"),  tr("Amplified biases")};
    setColumnCount(static_cast<int>(headers.size()));
    setHorizontalHeaderLabels(headers);
    horizontalHeaderItem(2)->setToolTip(
        tr("Largest / smallest output-channel range of the first layer, before the run"));
    horizontalHeaderItem(3)->setToolTip(tr("The same after the last sweep"));
    horizontalHeaderItem(5)->setToolTip(
        tr("Output channels of the first layer with zero range: left unscaled"));
    horizontalHeaderItem(6)->setToolTip(
        tr("Input channels of the second layer with zero range: left unscaled"));
    horizontalHeaderItem(7)->setToolTip(
        tr("Output channels of the first layer whose bias grew more than %1 times (1 / factor): "
           "their activations dwarf the others under per-tensor INT8")
            .arg(core::kBiasAmplificationLimit));
    verticalHeader()->setVisible(false);
    verticalHeader()->setDefaultSectionSize(fontMetrics().height() + 6);
    horizontalHeader()->setStretchLastSection(true);
    setSelectionBehavior(QAbstractItemView::SelectRows);
    setSelectionMode(QAbstractItemView::SingleSelection);
    setAlternatingRowColors(true);
    setWordWrap(false);
    resizeColumnsToContents();  // the headers fit before the first run
    connect(this, &QTableWidget::currentCellChanged, this, [this](int row) {
        if (row >= 0) emit pairChosen(row);
    });
}

void SummaryTable::setSummary(const core::Summary* summary) {
    const QSignalBlocker block(this);
    const int current = currentRow();
    const int rows = summary ? static_cast<int>(summary->pairs.size()) : 0;
    const bool reshaped = rows != rowCount();
    setRowCount(rows);
    for (int r = 0; r < rows; ++r) {
        const auto& p = summary->pairs[static_cast<size_t>(r)];
        const QString name = QStringLiteral("%1 → %2").arg(QString::fromStdString(p.first),
                                                           QString::fromStdString(p.second));
        setItem(r, 0, cell(name));
        const bool has = !p.states.empty();
        setItem(r, 1, cell(has ? QString::number(p.states.front().out.size()) : QString(), true));
        setItem(
            r, 2,
            cell(has ? LayerTableModel::formatImbalance(core::rangeImbalance(p.states.front().out))
                     : QString(),
                 true));
        setItem(
            r, 3,
            cell(has ? LayerTableModel::formatImbalance(core::rangeImbalance(p.states.back().out))
                     : QString(),
                 true));
        setItem(r, 4,
                cell(QString::number(has ? summary->stateSweep(p.states.size() - 1) : 0), true));
        auto* dead = cell(channels(p.deadChannels));
        if (!p.deadChannels.empty()) dead->setForeground(QColor(179, 38, 30));
        setItem(r, 5, dead);
        auto* constant = cell(channels(p.constantInputChannels));
        if (!p.constantInputChannels.empty()) constant->setForeground(QColor(138, 90, 0));
        setItem(r, 6, constant);
        auto* bias = cell(amplified(p.amplifiedBias));
        if (!p.amplifiedBias.empty()) bias->setForeground(QColor(179, 38, 30));
        setItem(r, 7, bias);
    }
    if (current >= 0 && current < rows) setCurrentCell(current, 0);
    // Measuring every cell is the expensive part of an update; do it when the rows change.
    if (reshaped) resizeColumnsToContents();
}

void SummaryTable::setCurrentPair(int index) {
    const QSignalBlocker block(this);
    if (index >= 0 && index < rowCount()) setCurrentCell(index, 0);
}

}  // namespace cle::ui
