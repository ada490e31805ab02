#include "ui/plots/plot_widget.h"

#include <cmath>

#include <qcustomplot.h>
#include <QFile>
#include <QFileInfo>
#include <QMenu>
#include <QTextStream>
#include <QVBoxLayout>

#include "ui/prompter.h"

namespace cle::ui {

PlotWidget::PlotWidget(const QString& title, QWidget* parent)
    : QWidget(parent), title_(title), plot_(new QCustomPlot(this)) {
    plot_->setMinimumSize(240, 160);
    plot_->setNoAntialiasingOnDrag(true);
    plot_->plotLayout()->insertRow(0);
    titleElement_ = new QCPTextElement(plot_, title,
                                       QFont(font().family(), font().pointSize() + 1, QFont::Bold));
    plot_->plotLayout()->addElement(0, 0, titleElement_);
    placeholder_ = new QCPItemText(plot_);
    placeholder_->setPositionAlignment(Qt::AlignCenter);
    placeholder_->position->setType(QCPItemPosition::ptAxisRectRatio);
    placeholder_->position->setCoords(0.5, 0.5);
    placeholder_->setColor(QColor(110, 110, 110));
    placeholder_->setClipToAxisRect(false);
    placeholder_->setVisible(false);

    plot_->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(plot_, &QWidget::customContextMenuRequested, this, [this](const QPoint& pos) {
        QMenu menu(this);
        menu.addAction(tr("Save image (PNG/PDF)…"), this, &PlotWidget::promptSaveImage);
        menu.addAction(tr("Save data as CSV…"), this, &PlotWidget::promptSaveCsv);
        menu.exec(plot_->mapToGlobal(pos));
    });
    // A status tip, not a tool tip: a tool tip would replace the value shown on hover.
    setStatusTip(tr("Right-click to save the plot or its data"));

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(plot_);
}

void PlotWidget::setTitleText(const QString& text) { titleElement_->setText(text); }

namespace {

QString wrapped(const QString& text, int width) {
    QStringList lines;
    QString line;
    for (const QString& word : text.split(' ', Qt::SkipEmptyParts)) {
        if (!line.isEmpty() && line.size() + 1 + word.size() > width) {
            lines << line;
            line.clear();
        }
        line += (line.isEmpty() ? QString() : QStringLiteral(" ")) + word;
    }
    if (!line.isEmpty()) lines << line;
    return lines.join('\n');
}

// Ticks at whole numbers only: the default steps of 2.5 or 0.5 name channels that do not exist.
class IntegerTicker : public QCPAxisTicker {
protected:
    double getTickStep(const QCPRange& range) override {
        const double step = QCPAxisTicker::getTickStep(range);
        return step < 1 ? 1.0 : std::floor(step);
    }
    int getSubTickCount(double) override { return 0; }
};

}  // namespace

void PlotWidget::setIntegerTicks(QCPAxis* axis) {
    axis->setTicker(QSharedPointer<QCPAxisTicker>(new IntegerTicker));
}

QString PlotWidget::placeholderText() const {
    return placeholder_->visible() ? placeholder_->text() : QString();
}

void PlotWidget::setPlaceholder(const QString& text) {
    placeholder_->setText(wrapped(text, kPlaceholderLine));
    placeholder_->setVisible(!text.isEmpty());
    for (QCPAxis* axis : {plot_->xAxis, plot_->yAxis}) {
        axis->setTickLabels(text.isEmpty());
        if (!text.isEmpty())
            axis->setRange(axis->scaleType() == QCPAxis::stLogarithmic ? QCPRange(1, 10)
                                                                       : QCPRange(0, 1));
    }
}

void PlotWidget::setLogScale(QCPAxis* axis, bool log) {
    axis->setScaleType(log ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
    if (log)
        axis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
    else
        axis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
    axis->setNumberFormat(log ? QStringLiteral("eb") : QStringLiteral("g"));
    axis->setNumberPrecision(log ? 0 : 4);
}

void PlotWidget::replotLater() {
    if (!isVisible()) {
        stale_ = true;
        return;
    }
    plot_->replot(QCustomPlot::rpQueuedReplot);
}

void PlotWidget::showEvent(QShowEvent* event) {
    QWidget::showEvent(event);
    if (stale_) {
        stale_ = false;
        plot_->replot(QCustomPlot::rpQueuedReplot);
    }
}

bool PlotWidget::saveImage(const QString& path) {
    stale_ = false;
    plot_->replot();
    const int w = std::max(plot_->width(), 800);
    const int h = std::max(plot_->height(), 500);
    if (QFileInfo(path).suffix().compare(QStringLiteral("pdf"), Qt::CaseInsensitive) == 0)
        return plot_->savePdf(path, w, h);
    return plot_->savePng(path, w, h);
}

bool PlotWidget::saveCsv(const QString& path) const {
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate | QIODevice::Text)) return false;
    QTextStream out(&file);
    out << csv();
    return out.status() == QTextStream::Ok && file.flush();
}

void PlotWidget::promptSaveImage() {
    QString path = Prompter::instance().saveFileName(
        this, tr("Save %1").arg(title_), tr("PNG image (*.png);;PDF document (*.pdf)"),
        title_.toLower().replace(' ', '_') + QStringLiteral(".png"));
    if (path.isEmpty()) return;
    if (QFileInfo(path).suffix().isEmpty()) path += QStringLiteral(".png");
    if (!saveImage(path))
        Prompter::instance().error(this, tr("Save plot"), tr("Could not write %1.").arg(path));
}

void PlotWidget::promptSaveCsv() {
    QString path = Prompter::instance().saveFileName(
        this, tr("Save data of %1").arg(title_), tr("CSV file (*.csv)"),
        title_.toLower().replace(' ', '_') + QStringLiteral(".csv"));
    if (path.isEmpty()) return;
    if (QFileInfo(path).suffix().isEmpty()) path += QStringLiteral(".csv");
    if (!saveCsv(path))
        Prompter::instance().error(this, tr("Save data"), tr("Could not write %1.").arg(path));
}

}  // namespace cle::ui
