#pragma once
// The recent-files list kept in QSettings, most recent first.
#include <QStringList>

namespace cle::ui {

class RecentFiles {
public:
    static constexpr int kMax = 8;
    static QStringList list();
    static void add(const QString& path);
    static void remove(const QString& path);
    static void clear();
};

}  // namespace cle::ui
