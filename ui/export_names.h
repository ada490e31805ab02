#pragma once
// Default file names offered by the export: "model.h5" -> "model_cle.h5", and the run report
// beside the weights ("model_cle.h5" -> "model_cle.report.json").
#include <QString>

namespace cle::ui {

QString defaultExportName(const QString& input);
QString reportPathFor(const QString& weights);

}  // namespace cle::ui
