#include "ui/pair_groups.h"

#include <QObject>
#include <QStringList>

namespace cle::ui {

QString displayText(const core::Group& group) {
    QStringList names;
    for (const auto& n : group) names << QString::fromStdString(n);
    return names.join(QStringLiteral(" → "));
}

QString pairsText(const std::vector<core::Group>& groups) {
    QStringList parts;
    for (const auto& g : groups) {
        QStringList names;
        for (const auto& n : g) names << QString::fromStdString(n);
        parts << names.join(',');
    }
    return parts.join(';');
}

QString appendProblem(const core::ModelInfo& model, const core::Group& chain,
                      const std::string& name, const core::Topology* topology, bool allowRelu6) {
    const core::LayerInfo* info = model.find(name);
    if (!info)
        return QObject::tr("There is no layer named \"%1\".").arg(QString::fromStdString(name));
    if (!info->supported) {
        return QObject::tr("%1 cannot be equalized: %2")
            .arg(QString::fromStdString(name), QString::fromStdString(info->unsupportedReason));
    }
    if (chain.empty()) return {};
    if (auto problem = core::pairProblem(model, chain.back(), name))
        return QString::fromStdString(*problem);
    std::string reason;
    if (topology && !topology->link(chain.back(), name, allowRelu6, &reason))
        return QObject::tr("%1 → %2 cannot be paired: %3")
            .arg(QString::fromStdString(chain.back()), QString::fromStdString(name),
                 QString::fromStdString(reason));
    return {};
}

}  // namespace cle::ui
