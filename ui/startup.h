#pragma once
// Command-line options of cle-studio and what they make the window do once it is shown:
// open a file (the bundled sample by default), set pairs, run, and save a screenshot.
#include <QSize>
#include <QString>
#include <QStringList>

namespace cle::ui {

class MainWindow;

struct StartupOptions {
    QString file;          ///< empty: the bundled sample
    QString pairs;         ///< "a,b,c;d,e" (the `cle --pairs` syntax)
    bool suggest = false;  ///< use the suggested chains (confirmed)
    bool run = false;      ///< run once the model is loaded
    int showPair = -1;     ///< pair shown after the run (-1: the first)
    bool logY = false;
    bool sortByRange = false;
    QString tab;         ///< tab shown after the run: "equalization", "channels", "quantization"
    QString screenshot;  ///< after the run (or the load), save the window to this PNG and quit
    QSize size;          ///< window size (empty: default)
};

/// Parses `arguments` (argv as given to QApplication). On a usage error returns false with the
/// message (or the help text) in `message`.
bool parseStartupOptions(const QStringList& arguments, StartupOptions& options, QString& message);

/// Applies `options` to `window` as the model loads and the run ends.
void applyStartupOptions(MainWindow& window, const StartupOptions& options);

}  // namespace cle::ui
