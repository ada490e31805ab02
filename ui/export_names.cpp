#include "ui/export_names.h"

#include <QDir>
#include <QFileInfo>
#include <QStringList>

namespace cle::ui {

namespace {
// Longest first: "x.weights.h5" is "x" + ".weights.h5", not "x.weights" + ".h5".
const QStringList kSuffixes{QStringLiteral(".weights.json"), QStringLiteral(".weights.h5"),
                            QStringLiteral(".keras"),        QStringLiteral(".hdf5"),
                            QStringLiteral(".h5"),           QStringLiteral(".onnx")};
}  // namespace

QString defaultExportName(const QString& input) {
    const QFileInfo info(input);
    QString name = info.fileName();
    for (const QString& suffix : kSuffixes) {
        if (name.endsWith(suffix, Qt::CaseInsensitive)) {
            name.insert(name.size() - suffix.size(), QStringLiteral("_cle"));
            return info.dir().filePath(name);
        }
    }
    return info.dir().filePath(name + QStringLiteral("_cle.h5"));
}

QString reportPathFor(const QString& weights) {
    QString report = weights;
    for (const QString& suffix : kSuffixes) {
        if (report.endsWith(suffix, Qt::CaseInsensitive)) {
            report.chop(suffix.size());
            break;
        }
    }
    return report + QStringLiteral(".report.json");
}

}  // namespace cle::ui
