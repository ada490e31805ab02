#include "ui/quantization_view.h"

#include <cmath>

#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QScrollArea>
#include <QSplitter>
#include <QTableWidget>
#include <QTextDocument>
#include <QVBoxLayout>

#include "ui/plots/quantization_plot.h"
#include "ui/run_panel.h"

namespace cle::ui {

namespace {

/// Sorts by the number in Qt::UserRole, shows formatted text.
class NumberItem : public QTableWidgetItem {
public:
    NumberItem(double value, const QString& text) : QTableWidgetItem(text) {
        setData(Qt::UserRole, value);
        setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    }
    bool operator<(const QTableWidgetItem& other) const override {
        return data(Qt::UserRole).toDouble() < other.data(Qt::UserRole).toDouble();
    }
};

QString signedDb(double db) {
    if (!std::isfinite(db)) return formatDb(db);
    return (db >= 0 ? QStringLiteral("+") : QString()) + QString::number(db, 'f', 1);
}

QString gainColor(double db) {
    if (db > 0.5) return QStringLiteral("#1b6e20");
    if (db < -0.5) return QStringLiteral("#b3261e");
    return QStringLiteral("#444444");
}

/// "31.0 dB <small>(was 18.2, +12.8)</small>" in the headline's rich text.
QString figure(const QString& label, double before, double after) {
    const double gain = after - before;
    return QStringLiteral(
               "%1 <b>%2 dB</b> <span style='color:%3'>(%4)</span> "
               "<span style='color:#666'>from %5</span>")
        .arg(label, formatDb(after), gainColor(gain), signedDb(gain), formatDb(before));
}

}  // namespace

QuantizationView::QuantizationView(QWidget* parent)
    : QWidget(parent),
      warning_(new QLabel(this)),
      headline_(new QLabel(this)),
      details_(new QLabel(this)),
      plot_(new QuantizationPlot(this)),
      table_(new QTableWidget(0, ColumnCount, this)),
      drop_(new QPushButton(tr("Drop this pair and run again"), this)),
      comparison_(new QLabel(this)) {
    QFont big = headline_->font();
    big.setPointSizeF(big.pointSizeF() * 1.35);
    headline_->setFont(big);
    headline_->setWordWrap(true);
    headline_->setTextFormat(Qt::RichText);
    headline_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    warning_->setWordWrap(true);
    warning_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    warning_->setStyleSheet(QStringLiteral("color: #b3261e; font-weight: bold;"));
    details_->setWordWrap(true);
    details_->setTextFormat(Qt::RichText);
    details_->setStyleSheet(QStringLiteral("color: #444;"));
    setUpTable();
    drop_->setToolTip(
        tr("Remove the pair that made the selected layer worse from the list and "
           "run again, to compare"));
    drop_->setEnabled(false);
    comparison_->setWordWrap(true);
    comparison_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    comparison_->hide();
    connect(table_, &QTableWidget::currentCellChanged, this, &QuantizationView::updateDropButton);
    connect(drop_, &QPushButton::clicked, this, [this] {
        if (const LossReason* r = reasonForRow(table_->currentRow()))
            emit dropPairRequested(QString::fromStdString(r->pair.first),
                                   QString::fromStdString(r->pair.second));
    });

    // One readable row per layer: with 50-100 layers the chart scrolls.
    auto* scroll = new QScrollArea(this);
    scroll->setWidget(plot_);
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    auto* bottom = new QWidget(this);
    auto* bottomLayout = new QVBoxLayout(bottom);
    bottomLayout->setContentsMargins(0, 0, 0, 0);
    auto* actions = new QHBoxLayout;
    actions->addWidget(drop_);
    actions->addWidget(comparison_, 1);
    bottomLayout->addLayout(actions);
    bottomLayout->addWidget(table_, 1);
    auto* split = new QSplitter(Qt::Vertical, this);
    split->addWidget(scroll);
    split->addWidget(bottom);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    split->setChildrenCollapsible(false);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 0);
    layout->addWidget(warning_);
    layout->addWidget(headline_);
    layout->addWidget(details_);
    layout->addWidget(split, 1);
    setReport(nullptr);
}

void QuantizationView::setUpTable() {
    table_->setHorizontalHeaderLabels(
        {tr("Layer"), tr("Parameters"), tr("Per tensor before"), tr("Per tensor after"), tr("Gain"),
         tr("Per channel before"), tr("Per channel after"), tr("To zero before"),
         tr("To zero after"), tr("Zeroed channels before"), tr("Zeroed channels after"),
         tr("Collapsed"), tr("Why worse")});
    table_->horizontalHeaderItem(Reason)->setToolTip(
        tr("For a layer whose per-tensor SQNR fell: the cause the run shows (a dead or constant "
           "channel left unscaled, a depthwise neighbour's imbalance moved into it)"));
    table_->horizontalHeaderItem(TensorBefore)
        ->setToolTip(
            tr("SQNR in dB of the weights quantized to symmetric INT8 with one scale for the whole "
               "tensor (max|W| / 127), after batch-norm folding"));
    table_->horizontalHeaderItem(Gain)->setToolTip(tr("Per tensor after − before, in dB"));
    table_->horizontalHeaderItem(ChannelAfter)
        ->setToolTip(
            tr("SQNR in dB with one scale per output channel: what per-channel quantization gets "
               "without equalization, for comparison"));
    table_->horizontalHeaderItem(ZeroAfter)->setToolTip(
        tr("Share of the non-zero weights that round to zero under per-tensor INT8"));
    table_->horizontalHeaderItem(ZeroedAfter)
        ->setToolTip(tr("Output channels, not all zero, whose weights all round to zero under "
                        "per-tensor INT8"));
    table_->horizontalHeaderItem(Collapsed)->setToolTip(
        tr("More than half the non-zero weights round to zero: the layer is lost under per-tensor "
           "INT8 whatever its SQNR, and counts as 0 dB in the summary figures"));
    table_->verticalHeader()->hide();
    table_->verticalHeader()->setDefaultSectionSize(table_->fontMetrics().height() + 6);
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setAlternatingRowColors(true);
    table_->horizontalHeader()->setStretchLastSection(true);
    // Graph order until the user sorts by a column.
    table_->horizontalHeader()->setSortIndicator(-1, Qt::AscendingOrder);
}

void QuantizationView::setReport(const core::QuantizationReport* report) {
    if (!report || report->layers.empty()) {
        gain_.clear();
        warning_->clear();
        warning_->hide();
        headline_->setText(
            tr("Run an equalization to see how much better the weights survive "
               "8-bit quantization."));
        details_->setText(
            tr("Each equalized layer's weights are quantized to symmetric INT8 "
               "(round half to even) and compared with the originals."));
        plot_->clear(tr("No run yet"));
        table_->setRowCount(0);
        reasons_.clear();
        updateDropButton();
        return;
    }
    const auto& r = *report;
    const QString warning = collapseWarning(r).trimmed();
    warning_->setText(warning);
    warning_->setVisible(!warning.isEmpty());
    // The tab's one number: the mean weighted by parameter count, where the bulk of the weights
    // is. A median over layers gains when many small layers do while the large ones lose.
    gain_ = signedDb(r.perTensorAfter.weightedMean - r.perTensorBefore.weightedMean) + tr(" dB");
    const QString dot = QStringLiteral(" · ");
    headline_->setText(
        tr("Per-tensor INT8 SQNR of the %n equalized layer(s): ", nullptr,
           static_cast<int>(r.layers.size())) +
        figure(tr("median"), r.perTensorBefore.median, r.perTensorAfter.median) + dot +
        figure(tr("worst"), r.perTensorBefore.worst, r.perTensorAfter.worst) + dot +
        figure(tr("weighted mean"), r.perTensorBefore.weightedMean, r.perTensorAfter.weightedMean));
    details_->setText(
        tr("Per channel, for comparison: median %1 → %2 dB, worst %3 → %4 dB. Weighted mean: "
           "by parameter count. Higher is better; about 6 dB is one bit.")
            .arg(formatDb(r.perChannelBefore.median), formatDb(r.perChannelAfter.median),
                 formatDb(r.perChannelBefore.worst), formatDb(r.perChannelAfter.worst)));
    plot_->setReport(r);
    fillTable(r);
}

void QuantizationView::fillTable(const core::QuantizationReport& r) {
    table_->setSortingEnabled(false);
    table_->setRowCount(static_cast<int>(r.layers.size()));
    for (int row = 0; row < table_->rowCount(); ++row) {
        const auto& l = r.layers[static_cast<size_t>(row)];
        auto* name = new QTableWidgetItem(QString::fromStdString(l.name));
        name->setData(Qt::UserRole, row);
        table_->setItem(row, Layer, name);
        const QString parameters = QLocale().toString(qint64(l.parameters));
        table_->setItem(row, Parameters, new NumberItem(double(l.parameters), parameters));
        const double values[] = {l.perTensorBefore, l.perTensorAfter, 0, l.perChannelBefore,
                                 l.perChannelAfter};
        for (int c = TensorBefore; c <= ChannelAfter; ++c) {
            if (c == Gain) continue;
            const double v = values[c - TensorBefore];
            table_->setItem(row, c, new NumberItem(v, formatDb(v)));
        }
        // As in the summary figures, a collapsed layer counts as 0 dB.
        const double gain = QuantizationPlot::gain(l);
        auto* g = new NumberItem(
            gain, signedDb(gain) + (l.collapsedByEqualization() ? tr(" (collapsed)") : QString()));
        g->setForeground(QColor(gainColor(gain)));
        table_->setItem(row, Gain, g);
        fillCollapse(row, l);
    }
    table_->setSortingEnabled(true);
    table_->resizeColumnsToContents();
}

void QuantizationView::fillCollapse(int row, const core::LayerSqnr& l) {
    const auto percent = [](double f) {
        return QString::number(100 * f, 'f', 1) + QLatin1Char('%');
    };
    table_->setItem(row, ZeroBefore,
                    new NumberItem(l.zeroFractionBefore, percent(l.zeroFractionBefore)));
    table_->setItem(row, ZeroAfter,
                    new NumberItem(l.zeroFractionAfter, percent(l.zeroFractionAfter)));
    table_->setItem(
        row, ZeroedBefore,
        new NumberItem(double(l.zeroedChannelsBefore), QString::number(l.zeroedChannelsBefore)));
    table_->setItem(
        row, ZeroedAfter,
        new NumberItem(double(l.zeroedChannelsAfter), QString::number(l.zeroedChannelsAfter)));
    QString collapsed;
    if (l.collapsedByEqualization())
        collapsed = tr("by equalization");
    else if (l.collapsedBefore && l.collapsedAfter)
        collapsed = tr("before and after");
    else if (l.collapsedBefore)
        collapsed = tr("before only");
    else
        collapsed = tr("no");
    auto* c = new QTableWidgetItem(collapsed);
    if (l.collapsedAfter) {
        c->setForeground(QColor(179, 38, 30));
        table_->item(row, ZeroAfter)->setForeground(QColor(179, 38, 30));
    }
    table_->setItem(row, Collapsed, c);
}

void QuantizationView::setReasons(const std::vector<LossReason>& reasons) {
    reasons_ = reasons;
    const bool sorting = table_->isSortingEnabled();
    table_->setSortingEnabled(false);
    for (int row = 0; row < table_->rowCount(); ++row) {
        const LossReason* r = reasonForRow(row);
        auto* item = new QTableWidgetItem(!r                  ? QString()
                                          : r->text.isEmpty() ? tr("no known cause")
                                                              : r->text);
        item->setToolTip(r ? item->text() + tr("\nSelect the row and press \"Drop this pair and "
                                               "run again\" to compare without %1 → %2.")
                                                .arg(QString::fromStdString(r->pair.first),
                                                     QString::fromStdString(r->pair.second))
                           : QString());
        table_->setItem(row, Reason, item);
    }
    table_->setSortingEnabled(sorting);
    updateDropButton();
}

const LossReason* QuantizationView::reasonForRow(int row) const {
    const QTableWidgetItem* name = row >= 0 ? table_->item(row, Layer) : nullptr;
    if (!name) return nullptr;
    for (const auto& r : reasons_)
        if (QString::fromStdString(r.layer) == name->text()) return &r;
    return nullptr;
}

QString QuantizationView::reasonText(const QString& layer) const {
    for (const auto& r : reasons_)
        if (QString::fromStdString(r.layer) == layer) return r.text;
    return {};
}

void QuantizationView::selectLayer(const QString& layer) {
    for (int row = 0; row < table_->rowCount(); ++row)
        if (table_->item(row, Layer)->text() == layer) table_->setCurrentCell(row, Layer);
}

void QuantizationView::updateDropButton() {
    const LossReason* r = reasonForRow(table_->currentRow());
    drop_->setEnabled(r != nullptr);
    drop_->setText(
        r ? tr("Drop %1 → %2 and run again")
                .arg(QString::fromStdString(r->pair.first), QString::fromStdString(r->pair.second))
          : tr("Drop this pair and run again"));
}

void QuantizationView::setComparison(const QString& text) {
    comparison_->setText(text);
    comparison_->setVisible(!text.isEmpty());
}

QString QuantizationView::comparisonText() const {
    return comparison_->isHidden() ? QString() : comparison_->text();
}

QString QuantizationView::warningText() const { return warning_->text(); }

QString QuantizationView::summaryText() const {
    if (gain_.isEmpty()) return {};
    QTextDocument doc;
    doc.setHtml(headline_->text());
    const QString warning = warning_->text();
    return warning.isEmpty() ? doc.toPlainText() : warning + QLatin1Char('\n') + doc.toPlainText();
}

}  // namespace cle::ui
