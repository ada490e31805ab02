#include "ui/file_check.h"

#include <QCoreApplication>
#include <QFileInfo>
#include <QProcess>
#include <QRegularExpression>
#include <QStringList>

#include "cle/core/error.h"

namespace cle::ui {

namespace {
constexpr int kFaultExit = 5;  // `cle`'s exit status for a fault (app/cli/cli.h)
}

QString checkerProgram() {
    // $CLE_CLI when it names a program, else the `cle` beside the application.
    for (const QString& program :
         {qEnvironmentVariable("CLE_CLI"),
          QCoreApplication::applicationDirPath() + QStringLiteral("/cle")}) {
        const QFileInfo info(program);
        if (!program.isEmpty() && info.isFile() && info.isExecutable())
            return info.absoluteFilePath();
    }
    return {};
}

void checkInSeparateProcess(const QString& path, const core::Feedback* feedback, bool inputs) {
    const QString program = checkerProgram();
    if (program.isEmpty()) return;
    QProcess check;
    check.setProgram(program);
    // An absolute path: a name starting with '-' is not read as an option.
    QStringList arguments{QStringLiteral("check"), QFileInfo(path).absoluteFilePath()};
    if (inputs) arguments << QStringLiteral("--inputs");
    check.setArguments(arguments);
    check.setStandardOutputFile(QProcess::nullDevice());
    check.start();
    if (!check.waitForStarted(-1)) return;  // cannot run it: the file is read as before
    while (!check.waitForFinished(100) && check.state() != QProcess::NotRunning) {
        if (feedback && feedback->isCancelled()) {
            check.kill();
            check.waitForFinished(-1);
            throw core::Error(core::ErrorKind::Cancelled, "loading cancelled");
        }
    }
    const bool crashed = check.exitStatus() == QProcess::CrashExit;
    if (!crashed && check.exitCode() != kFaultExit) return;
    QString sentence = QString::fromUtf8(check.readAllStandardError()).trimmed();
    sentence = sentence.section(QLatin1Char('\n'), -1);  // the last line: its own sentence
    if (sentence.startsWith(QLatin1String("cle: "))) sentence = sentence.mid(5);
    // Opening a file writes nothing: what `cle` says about its output does not apply.
    sentence.remove(QRegularExpression(
        QStringLiteral("; (nothing was written|the output had been "
                       "written|it stopped while the output took its name.*)$")));
    if (crashed || sentence.isEmpty())
        sentence = QStringLiteral(
                       "'%1' could not be read: the process reading it ended on a "
                       "signal (the file is probably damaged)")
                       .arg(path);
    throw core::inputError(sentence.toStdString());
}

}  // namespace cle::ui
