#include "ui/sample_model.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>

namespace cle::ui {

QString sampleModelPath() {
    const QString name = QStringLiteral("tiny_face_detector_keras.h5");
    const QDir exe(QCoreApplication::applicationDirPath());
    const QStringList candidates = {
        exe.filePath(name),
        exe.filePath(QStringLiteral("../share/cle-studio/") + name),
        exe.filePath(QStringLiteral("../resources/") + name),
        QStringLiteral(CLE_SOURCE_SAMPLE_MODEL),
    };
    for (const QString& path : candidates) {
        if (QFileInfo(path).isFile()) return QFileInfo(path).canonicalFilePath();
    }
    return {};
}

}  // namespace cle::ui
