#pragma once
// Where the bundled sample model (the tiny face detector's Keras weights) is.
#include <QString>

namespace cle::ui {

/// The first existing of: next to the executable, ../share/cle-studio/ (installed), the source
/// tree (build tree). Empty when none exists.
QString sampleModelPath();

}  // namespace cle::ui
