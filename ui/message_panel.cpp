#include "ui/message_panel.h"

#include <algorithm>

#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QStyle>
#include <QToolButton>
#include <QTreeWidget>
#include <QVBoxLayout>

namespace cle::ui {

namespace {

QStyle::StandardPixmap levelIcon(Message::Level level) {
    switch (level) {
        case Message::Error:
            return QStyle::SP_MessageBoxCritical;
        case Message::Warning:
            return QStyle::SP_MessageBoxWarning;
        case Message::Information:
            break;
    }
    return QStyle::SP_MessageBoxInformation;
}

}  // namespace

QColor levelColor(Message::Level level) {
    switch (level) {
        case Message::Error:
            return QColor(0xb3, 0x26, 0x1e);
        case Message::Warning:
            return QColor(0x8a, 0x5a, 0x00);
        case Message::Information:
            break;
    }
    return {};
}

MessagePanel::MessagePanel(QWidget* parent)
    : QWidget(parent),
      toggle_(new QToolButton(this)),
      summary_(new QLabel(this)),
      tree_(new QTreeWidget(this)) {
    toggle_->setCheckable(true);
    toggle_->setAutoRaise(true);
    toggle_->setArrowType(Qt::RightArrow);
    toggle_->setToolTip(tr("Show or hide the messages of the last run"));
    summary_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    summary_->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    tree_->setHeaderHidden(true);
    tree_->setColumnCount(1);
    tree_->setWordWrap(true);
    tree_->setUniformRowHeights(false);
    tree_->setSelectionMode(QAbstractItemView::ExtendedSelection);
    tree_->header()->setStretchLastSection(true);
    tree_->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    tree_->hide();

    auto* header = new QHBoxLayout;
    header->setContentsMargins(0, 0, 0, 0);
    header->addWidget(toggle_);
    header->addWidget(summary_, 1);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(2);
    layout->addLayout(header);
    layout->addWidget(tree_, 1);
    connect(toggle_, &QToolButton::toggled, this, &MessagePanel::setExpanded);
    clear();
}

void MessagePanel::setMessages(const QString& summary, const std::vector<Message>& messages) {
    summaryText_ = summary;
    messages_ = messages;
    tree_->clear();
    for (const auto& m : messages_) {
        auto* item = new QTreeWidgetItem(tree_, QStringList{m.text});
        item->setIcon(0, style()->standardIcon(levelIcon(m.level)));
        item->setToolTip(
            0, m.details.isEmpty() ? m.text : m.text + QLatin1Char('\n') + m.details.join('\n'));
        if (const QColor c = levelColor(m.level); c.isValid()) item->setForeground(0, c);
        for (const auto& d : m.details) new QTreeWidgetItem(item, QStringList{d});
    }
    QStringList counts;
    if (const int e = count(Message::Error)) counts << tr("%n error(s)", nullptr, e);
    if (const int w = count(Message::Warning)) counts << tr("%n warning(s)", nullptr, w);
    const QString line =
        counts.isEmpty() ? summary
                         : summary + QStringLiteral("  ·  ") + counts.join(QStringLiteral(", "));
    summary_->setText(line);
    summary_->setToolTip(line);
    const QColor c = levelColor(worstLevel());
    summary_->setStyleSheet(c.isValid()
                                ? QStringLiteral("color: %1; font-weight: bold;").arg(c.name())
                                : QStringLiteral("font-weight: bold;"));
    toggle_->setEnabled(!messages_.empty());
    setVisible(!summary.isEmpty() || !messages_.empty());
    if (worstLevel() != Message::Information) setExpanded(true);
}

void MessagePanel::clear() {
    summaryText_.clear();
    messages_.clear();
    tree_->clear();
    summary_->clear();
    toggle_->setEnabled(false);
    setExpanded(false);
    hide();
}

QString MessagePanel::summaryText() const { return summaryText_; }

QString MessagePanel::text() const {
    QStringList lines;
    if (!summaryText_.isEmpty()) lines << summaryText_;
    for (const auto& m : messages_) {
        lines << m.text;
        for (const auto& d : m.details) lines << QStringLiteral("  ") + d;
    }
    return lines.join('\n');
}

Message::Level MessagePanel::worstLevel() const {
    Message::Level worst = Message::Information;
    for (const auto& m : messages_) worst = std::max(worst, m.level);
    return worst;
}

int MessagePanel::count(Message::Level level) const {
    return static_cast<int>(std::count_if(messages_.begin(), messages_.end(),
                                          [level](const Message& m) { return m.level == level; }));
}

bool MessagePanel::isExpanded() const { return toggle_->isChecked(); }

void MessagePanel::setExpanded(bool expanded) {
    expanded = expanded && !messages_.empty();
    const bool changed = expanded != !tree_->isHidden() || expanded != toggle_->isChecked();
    {
        const QSignalBlocker block(toggle_);
        toggle_->setChecked(expanded);
    }
    toggle_->setArrowType(expanded ? Qt::DownArrow : Qt::RightArrow);
    tree_->setVisible(expanded);
    // Collapsed, the panel is only its summary line, so a splitter cannot give it more room.
    setMaximumHeight(expanded ? QWIDGETSIZE_MAX : toggle_->sizeHint().height() + 4);
    if (changed) emit expandedChanged(expanded);
}

}  // namespace cle::ui
