#pragma once
// Every question and message the application puts to the user goes through a Prompter, so tests
// can replace the modal dialogs with answers of their own.
#include <memory>

#include <QString>

class QWidget;

namespace cle::ui {

class Prompter {
public:
    virtual ~Prompter() = default;
    virtual void error(QWidget* parent, const QString& title, const QString& text);
    /// Help and other plain information (rich text allowed).
    virtual void information(QWidget* parent, const QString& title, const QString& text);
    /// true when the user accepts.
    virtual bool confirm(QWidget* parent, const QString& title, const QString& text);
    /// Empty when the user cancels.
    virtual QString openFileName(QWidget* parent, const QString& title, const QString& filter);
    virtual QString saveFileName(QWidget* parent, const QString& title, const QString& filter,
                                 const QString& suggested);

    /// The process-wide prompter (message boxes and file dialogs unless replaced).
    static Prompter& instance();
    /// Replaces the process-wide prompter; null restores the default.
    static void install(std::unique_ptr<Prompter> prompter);
};

}  // namespace cle::ui
