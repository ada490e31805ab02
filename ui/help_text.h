#pragma once
// The texts of the Help menu.
#include <QString>

namespace cle::ui {

/// The keyboard shortcuts, as an HTML table.
QString shortcutsHelp();
/// How to read the plots of the Equalization, Layer channels and Quantization tabs (HTML).
QString plotsHelp();

}  // namespace cle::ui
