#pragma once
// The pair list's editor: a chain builder that explains every refusal, the group list (the
// topology's suggestions shown apart until accepted one by one or all together), the candidates
// not suggested with their reasons, and the pairs file buttons. The list itself is the
// session's PairList; this widget only presents and edits it.
#include <vector>

#include <QWidget>

#include "ui/pair_list.h"

class QComboBox;
class QLabel;
class QListWidget;
class QPushButton;

namespace cle::ui {

class RejectedList;

class PairsPanel : public QWidget {
    Q_OBJECT
public:
    /// Presents `pairs`, which must outlive the panel.
    explicit PairsPanel(PairList* pairs, QWidget* parent = nullptr);

    PairList* pairList() const { return pairs_; }
    // Shorthands for the list's own edits and queries.
    QString appendToChain(const QString& name) { return pairs_->appendToChain(name.toStdString()); }
    QString commitChain() { return pairs_->commitChain(); }
    const core::Group& chain() const { return pairs_->chain(); }
    QString setGroups(const std::vector<core::Group>& groups) { return pairs_->setGroups(groups); }
    int suggest() { return pairs_->suggest(); }
    void confirmAll() { pairs_->confirmAll(); }
    void clear() { pairs_->clear(); }
    std::vector<core::Group> confirmedGroups() const { return pairs_->confirmedGroups(); }
    std::vector<core::Group> suggestedGroups() const { return pairs_->suggestedGroups(); }
    std::vector<core::LayerPair> pairs() const { return pairs_->pairs(); }
    bool hasSuggestions() const { return pairs_->hasSuggestions(); }
    bool isSuggestion(int row) const { return pairs_->isSuggestion(row); }
    bool isGuessed(int row) const { return pairs_->isGuessed(row); }
    bool acceptSuggestion(int row) { return pairs_->acceptSuggestion(row); }
    bool dropSuggestion(int row) { return pairs_->dropSuggestion(row); }
    std::vector<core::RegionNames> regions() const { return pairs_->regions(); }
    const std::vector<core::Rejection>& rejected() const { return pairs_->rejected(); }
    QStringList candidates() const { return pairs_->candidates(); }
    QString loadFile(const QString& path) { return pairs_->loadFile(path); }
    QString saveFile(const QString& path) const { return pairs_->saveFile(path); }

    RejectedList* rejectedList() const { return rejectedList_; }
    /// The message currently shown under the builder ("" when none).
    QString problemText() const;
    QListWidget* list() const { return list_; }

public slots:
    void setBusy(bool busy);

signals:
    /// Load/Save buttons: the window owns the file dialogs.
    void loadRequested();
    void saveRequested();

private:
    QWidget* createButtons();
    void connectButtons();
    void connectList();
    void rebuildList();
    void updateButtons();
    void refreshChain();
    void refreshCandidates();
    void showProblem(const QString& text);
    void updateComboProblem();

    PairList* pairs_;
    bool busy_ = false;

    QLabel* chainLabel_;
    QComboBox* layerCombo_;
    QPushButton* appendButton_;
    QPushButton* undoButton_;
    QPushButton* commitButton_;
    QLabel* problemLabel_;
    QListWidget* list_;
    RejectedList* rejectedList_;
    QLabel* suggestionNote_;
    QPushButton* suggestButton_;
    QPushButton* acceptButton_;
    QPushButton* dropButton_;
    QPushButton* acceptAllButton_;
    QPushButton* removeButton_;
    QPushButton* upButton_;
    QPushButton* downButton_;
    QPushButton* clearButton_;
    QPushButton* loadButton_;
    QPushButton* saveButton_;
};

}  // namespace cle::ui
