#pragma once
// The candidate pairs the topology did not suggest, each with the reason: a collapsible table
// under the pair list, so the user can see why a pair they expected is missing.
#include <vector>

#include <QWidget>

#include "cle/core/topology.h"

class QToolButton;
class QTreeWidget;

namespace cle::ui {

class RejectedList : public QWidget {
    Q_OBJECT
public:
    explicit RejectedList(QWidget* parent = nullptr);

    /// Replaces the list; hidden altogether when `rejected` is empty.
    void setRejections(const std::vector<core::Rejection>& rejected);
    void clear() { setRejections({}); }
    int count() const;
    bool isExpanded() const;
    void setExpanded(bool expanded);
    QTreeWidget* tree() const { return tree_; }

private:
    void updateHeader();

    QToolButton* toggle_;
    QTreeWidget* tree_;
};

}  // namespace cle::ui
