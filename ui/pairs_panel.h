#pragma once
// Building the list of layer groups to equalize: a chain builder that explains every refusal,
// the group list (with the topology's suggestions kept apart until accepted one by one or all
// together), the candidates not suggested with their reasons, and the pairs file.
#include <memory>
#include <optional>
#include <vector>

#include <QWidget>

#include "cle/core/pairs.h"
#include "cle/core/topology.h"
#include "cle/core/weight_file.h"
#include "ui/loaded_model.h"

class QComboBox;
class QLabel;
class QListWidget;
class QPushButton;

namespace cle::ui {

class RejectedList;

class PairsPanel : public QWidget {
    Q_OBJECT
public:
    explicit PairsPanel(QWidget* parent = nullptr);

    /// New model: clears the chain, every group and the rejected candidates.
    void setModel(std::shared_ptr<const LoadedModel> model);
    /// Whether pairs may cross ReLU6 activations (the run panel's "Allow ReLU6"). Suggestions
    /// already made are made again under the new rule.
    void setAllowRelu6(bool allow);

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
    /// Replaces the chains an earlier suggest() proposed with the topology's suggested chains,
    /// marked as suggestions (and as guessed where the file has no layer graph), and lists the
    /// rejected candidates. A chain accepted before stays accepted; one that shares a pair with
    /// a chain built by hand is left out. Returns how many await acceptance.
    int suggest();
    /// Accepts or drops the suggestion in list row `row`; false when that row is no suggestion.
    bool acceptSuggestion(int row);
    bool dropSuggestion(int row);
    /// Removes the pair first → second from the accepted groups, splitting its chain in two
    /// (parts of one layer go). False when no accepted group holds that pair.
    bool dropPair(const std::string& first, const std::string& second);
    /// Accepts every suggestion.
    void confirmAll();
    void clear();

    std::vector<core::Group> confirmedGroups() const;
    /// The suggestions not accepted yet.
    std::vector<core::Group> suggestedGroups() const;
    std::vector<core::LayerPair> pairs() const;
    /// The accepted regions (suggested by suggest() or loaded from a pairs file).
    std::vector<core::RegionNames> regions() const;
    bool hasSuggestions() const;
    bool isSuggestion(int row) const;
    bool isGuessed(int row) const;
    /// The candidates the last suggest() left out, with reasons.
    const std::vector<core::Rejection>& rejected() const { return rejected_; }
    RejectedList* rejectedList() const { return rejectedList_; }
    /// The layers "Next layer" proposes: those that can follow the chain's last layer (every
    /// layer that can be equalized when the chain is empty).
    QStringList candidates() const;
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
        bool guessed = false;  ///< suggested from names and shapes, not from a layer graph
        bool fromSuggest = false;  ///< proposed by suggest() (accepted or not)
        /// A region rather than a chain: `layers` then lists its sources and sinks for display.
        std::optional<core::RegionNames> region;
    };
    QString problemFor(const core::Group& chain, const std::string& name) const;
    void refreshCandidates();
    QWidget* createButtons();
    void connectButtons();
    void rebuildList();
    void updateButtons();
    void refreshChain();
    void showProblem(const QString& text);
    void updateComboProblem();
    void moveSelected(int step);

    std::shared_ptr<const LoadedModel> model_;
    core::ModelInfo info_;
    bool allowRelu6_ = false;
    bool suggested_ = false;  ///< suggest() ran for this model
    core::Group chain_;
    std::vector<Entry> entries_;
    std::vector<core::Rejection> rejected_;
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
