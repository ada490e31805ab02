#include "ui/rejected_list.h"

#include <QHeaderView>
#include <QStringList>
#include <QToolButton>
#include <QTreeWidget>
#include <QVBoxLayout>

#include "ui/pair_groups.h"

namespace cle::ui {

RejectedList::RejectedList(QWidget* parent)
    : QWidget(parent), toggle_(new QToolButton(this)), tree_(new QTreeWidget(this)) {
    toggle_->setCheckable(true);
    toggle_->setAutoRaise(true);
    toggle_->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    toggle_->setToolTip(
        tr("Candidate pairs that would change the network's function if "
           "equalized, with the reason for each"));
    tree_->setColumnCount(2);
    tree_->setHeaderLabels({tr("Pair"), tr("Why it is not suggested")});
    tree_->setRootIsDecorated(false);
    tree_->setUniformRowHeights(true);
    tree_->setAlternatingRowColors(true);
    tree_->setSortingEnabled(true);
    tree_->sortByColumn(-1, Qt::AscendingOrder);
    tree_->header()->setStretchLastSection(true);
    tree_->setMinimumHeight(90);
    tree_->hide();

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(2);
    layout->addWidget(toggle_);
    layout->addWidget(tree_, 1);
    connect(toggle_, &QToolButton::toggled, this, &RejectedList::setExpanded);
    setRejections({});
}

void RejectedList::setRejections(const std::vector<core::Rejection>& rejected) {
    tree_->setSortingEnabled(false);
    tree_->clear();
    for (const auto& r : rejected) {
        auto* item = new QTreeWidgetItem(tree_);
        const QString pair = displayText(r.layers);
        const QString reason = QString::fromStdString(r.reason);
        item->setText(0, pair);
        item->setText(1, reason);
        const QString tip =
            QStringLiteral("<b>%1</b><br>%2").arg(pair.toHtmlEscaped(), reason.toHtmlEscaped());
        item->setToolTip(0, tip);
        item->setToolTip(1, tip);
    }
    tree_->setSortingEnabled(true);
    tree_->resizeColumnToContents(0);
    setVisible(!rejected.empty());
    updateHeader();
}

int RejectedList::count() const { return tree_->topLevelItemCount(); }

bool RejectedList::isExpanded() const { return toggle_->isChecked(); }

void RejectedList::setExpanded(bool expanded) {
    if (toggle_->isChecked() != expanded) toggle_->setChecked(expanded);
    tree_->setVisible(expanded);
    updateHeader();
}

void RejectedList::updateHeader() {
    toggle_->setArrowType(isExpanded() ? Qt::DownArrow : Qt::RightArrow);
    toggle_->setText(tr("Not suggested (%1)").arg(count()));
}

}  // namespace cle::ui
