#pragma once
// Building the list of layer groups to equalize: a chain builder that explains every refusal,
// the group list (with suggestions kept apart until confirmed), and the pairs file.
#include <vector>

#include <QWidget>

#include "cle/core/pairs.h"
#include "cle/core/weight_file.h"

class QComboBox;
class QLabel;
class QListWidget;
class QPushButton;

namespace cle::ui {

class PairsPanel : public QWidget {
    Q_OBJECT
public:
    explicit PairsPanel(QWidget* parent = nullptr);

    /// New model: clears the chain and every group.
    void setModelInfo(const core::ModelInfo& info);

    /// Appends a layer to the chain being built. Returns why it cannot be appended, or "" (the
    /// reason is also shown under the builder).
    QString appendToChain(const QString& name);
    /// Moves the chain being built into the group list.
    QString commitChain();
    const core::Group& chain() const { return chain_; }
    /// Adds a whole group; returns why it is invalid, or "".
    QString addGroup(const core::Group& group, bool suggested = false);
    /// Replaces the list with `groups` (confirmed). Returns the problems found, or "".
    QString setGroups(const std::vector<core::Group>& groups);
    /// Adds the suggested chains, marked as suggestions. Returns how many were added.
    int suggest();
    void confirmAll();
    void clear();

    std::vector<core::Group> confirmedGroups() const;
    std::vector<core::LayerPair> pairs() const;
    bool hasSuggestions() const;
    /// The message currently shown under the builder ("" when none).
    QString problemText() const;
    QListWidget* list() const { return list_; }

    /// Reads/writes {"groups": [...]}. Return an error sentence, or "".
    QString loadFile(const QString& path);
    QString saveFile(const QString& path) const;

public slots:
    void setBusy(bool busy);

signals:
    void groupsChanged();
    /// Load/Save buttons: the window owns the file dialogs.
    void loadRequested();
    void saveRequested();

private:
    struct Entry {
        core::Group layers;
        bool suggested = false;
    };
    void rebuildList();
    void refreshChain();
    void showProblem(const QString& text);
    void updateComboProblem();
    void moveSelected(int step);

    core::ModelInfo info_;
    core::Group chain_;
    std::vector<Entry> entries_;

    QLabel* chainLabel_;
    QComboBox* layerCombo_;
    QPushButton* appendButton_;
    QPushButton* undoButton_;
    QPushButton* commitButton_;
    QLabel* problemLabel_;
    QListWidget* list_;
    QPushButton* confirmButton_;
    QLabel* suggestionNote_;
    QList<QPushButton*> editButtons_;
};

}  // namespace cle::ui
