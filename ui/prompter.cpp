#include "ui/prompter.h"

#include <QFileDialog>
#include <QMessageBox>
#include <QSettings>

namespace cle::ui {

namespace {
std::unique_ptr<Prompter>& current() {
    static std::unique_ptr<Prompter> p = std::make_unique<Prompter>();
    return p;
}
}  // namespace

void Prompter::error(QWidget* parent, const QString& title, const QString& text) {
    QMessageBox::warning(parent, title, text);
}

void Prompter::information(QWidget* parent, const QString& title, const QString& text) {
    QMessageBox box(QMessageBox::Information, title, text, QMessageBox::Ok, parent);
    box.setTextFormat(Qt::RichText);
    box.exec();
}

bool Prompter::confirm(QWidget* parent, const QString& title, const QString& text) {
    return QMessageBox::question(parent, title, text, QMessageBox::Yes | QMessageBox::Cancel,
                                 QMessageBox::Cancel) == QMessageBox::Yes;
}

QString Prompter::openFileName(QWidget* parent, const QString& title, const QString& filter) {
    // Start where the last file was opened from.
    return QFileDialog::getOpenFileName(
        parent, title, QSettings().value(QStringLiteral("files/lastFolder")).toString(), filter);
}

QString Prompter::saveFileName(QWidget* parent, const QString& title, const QString& filter,
                               const QString& suggested) {
    return QFileDialog::getSaveFileName(parent, title, suggested, filter);
}

Prompter& Prompter::instance() { return *current(); }

void Prompter::install(std::unique_ptr<Prompter> prompter) {
    current() = prompter ? std::move(prompter) : std::make_unique<Prompter>();
}

}  // namespace cle::ui
