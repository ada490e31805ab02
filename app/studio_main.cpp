// cle-studio: the desktop application. Wiring only; behaviour lives in cle_ui.
#include <cstdio>

#include <QApplication>
#include <QIcon>

#include "ui/main_window.h"
#include "ui/startup.h"

int main(int argc, char* argv[]) {
    QApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("CLE Studio"));
    QApplication::setApplicationName(QStringLiteral("cle-studio"));
    QApplication::setApplicationDisplayName(QStringLiteral("CLE Studio"));
    QApplication::setApplicationVersion(QStringLiteral(CLE_VERSION));
    QApplication::setWindowIcon(QIcon(QStringLiteral(":/icons/cle-studio.png")));

    cle::ui::StartupOptions options;
    QString message;
    if (!cle::ui::parseStartupOptions(QApplication::arguments(), options, message)) {
        const bool help = message.startsWith(QStringLiteral("Usage")) ||
                          message.startsWith(QStringLiteral("cle-studio"));
        std::fprintf(help ? stdout : stderr, "%s\n", qPrintable(message));
        return help ? 0 : 2;
    }
    cle::ui::MainWindow window;
    window.show();
    cle::ui::applyStartupOptions(window, options);
    return app.exec();
}
