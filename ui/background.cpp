#include "ui/background.h"

#include <new>

#include <QCoreApplication>

#include "cle/core/error.h"

namespace cle::ui {

QString failureMessage(const std::exception_ptr& error, const QString& action) {
    auto tr = [](const char* text) { return QCoreApplication::translate("cle::ui", text); };
    try {
        std::rethrow_exception(error);
    } catch (const core::Error& e) {
        return QString::fromStdString(e.what());
    } catch (const std::bad_alloc&) {
        return tr("Not enough memory to %1.").arg(action);
    } catch (const std::exception& e) {
        return tr("Could not %1: %2").arg(action, QString::fromStdString(e.what()));
    } catch (...) {
        return tr("Could not %1: unknown error.").arg(action);
    }
}

}  // namespace cle::ui
