#pragma once
// Base of every plot: a QCustomPlot with a title, a placeholder message when there is nothing to
// show, and saving as PNG/PDF (by suffix) or its data as CSV from the context menu.
#include <QWidget>

class QCustomPlot;
class QCPAxis;
class QCPItemText;
class QCPTextElement;

namespace cle::ui {

class PlotWidget : public QWidget {
    Q_OBJECT
public:
    explicit PlotWidget(const QString& title, QWidget* parent = nullptr);

    QCustomPlot* plot() const { return plot_; }
    QString title() const { return title_; }
    /// The placeholder as shown (wrapped), "" when data is shown.
    QString placeholderText() const;
    static constexpr int kPlaceholderLine = 56;
    /// The plotted data as CSV text with a header line.
    virtual QString csv() const = 0;

    /// Saves the plot as PDF when `path` ends in .pdf, PNG otherwise. Returns false on failure.
    bool saveImage(const QString& path);
    bool saveCsv(const QString& path) const;
    /// Asks for a file name (through the Prompter) and saves; errors are reported there too.
    void promptSaveImage();
    void promptSaveCsv();

protected:
    /// Shows `text` across the plot instead of data, wrapped to lines of at most
    /// kPlaceholderLine characters, with the axes reset and their numbers hidden so no stale
    /// scale is left from an earlier model (empty: data again).
    void setPlaceholder(const QString& text);
    /// Channel and sweep axes: ticks only at whole numbers (never 2.5).
    static void setIntegerTicks(QCPAxis* axis);
    void setTitleText(const QString& text);
    static void setLogScale(QCPAxis* axis, bool log);
    /// Queued replot: many setters, one repaint. A hidden plot (another tab) is only marked
    /// stale and replots once it is shown, so a live run pays for the visible plots alone.
    void replotLater();
    void showEvent(QShowEvent* event) override;

private:
    bool stale_ = false;
    QString title_;
    QCustomPlot* plot_;
    QCPTextElement* titleElement_;
    QCPItemText* placeholder_;
};

}  // namespace cle::ui
