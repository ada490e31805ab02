#pragma once
// How the last run ended, as messages with a level: a one-line summary on top (coloured by the
// worst level, with the counts) and the messages below in a scrollable list that can be
// collapsed to the summary. A message may carry detail lines (one per layer, say), shown as its
// children.
#include <vector>

#include <QStringList>
#include <QWidget>

class QLabel;
class QToolButton;
class QTreeWidget;

namespace cle::ui {

struct Message {
    enum Level { Information, Warning, Error };
    Level level = Information;
    QString text;         ///< one sentence
    QStringList details;  ///< shown below it, folded
};

class MessagePanel : public QWidget {
    Q_OBJECT
public:
    explicit MessagePanel(QWidget* parent = nullptr);

    /// Replaces the messages. The list opens by itself when one of them is a warning or an error.
    void setMessages(const QString& summary, const std::vector<Message>& messages);
    void clear();

    QString summaryText() const;
    /// The summary, then every message and its details, one per line ("" when empty).
    QString text() const;
    const std::vector<Message>& messages() const { return messages_; }
    /// The most severe level among the messages (Information when none).
    Message::Level worstLevel() const;
    int count(Message::Level level) const;

    bool isExpanded() const;
    void setExpanded(bool expanded);
    QTreeWidget* tree() const { return tree_; }

signals:
    void expandedChanged(bool expanded);

private:
    QToolButton* toggle_;
    QLabel* summary_;
    QTreeWidget* tree_;
    QString summaryText_;
    std::vector<Message> messages_;
};

/// The colour a level is shown in (information: the palette's text colour, so invalid).
QColor levelColor(Message::Level level);

}  // namespace cle::ui
