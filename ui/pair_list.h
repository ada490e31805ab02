#pragma once
// The pair list as the document keeps it: the chain being built, the groups and regions to
// equalize (the topology's suggestions kept apart until accepted), the candidates not suggested
// with their reasons, and the pairs file. The session owns it; PairsPanel presents and edits it.
#include <memory>
#include <optional>
#include <vector>

#include <QObject>
#include <QString>
#include <QStringList>

#include "cle/core/pairs.h"
#include "cle/core/topology.h"
#include "ui/loaded_model.h"

namespace cle::ui {

class PairList : public QObject {
    Q_OBJECT
public:
    /// One row of the list: a chain, or a region (then `layers` lists its sources and sinks).
    struct Entry {
        core::Group layers;
        bool suggested = false;
        bool guessed = false;      ///< suggested from names and shapes, not from a layer graph
        bool fromSuggest = false;  ///< proposed by suggest() (accepted or not)
        std::optional<core::RegionNames> region = std::nullopt;
    };

    explicit PairList(QObject* parent = nullptr);

    /// New model: clears the chain, every group and the rejected candidates.
    void setModel(std::shared_ptr<const LoadedModel> model);
    bool hasModel() const { return model_ != nullptr; }
    /// Whether pairs may cross ReLU6 activations. Suggestions already made are made again.
    void setAllowRelu6(bool allow);
    bool allowRelu6() const { return allowRelu6_; }

    /// Why `name` cannot follow `chain` (or start it when empty), or "".
    QString problemFor(const core::Group& chain, const std::string& name) const;
    /// Appends a layer to the chain. Returns why it cannot be appended, or "".
    QString appendToChain(const std::string& name);
    /// Removes the chain's last layer.
    void undoChain();
    /// Moves the chain into the group list.
    QString commitChain();
    const core::Group& chain() const { return chain_; }
    /// The layers that can follow the chain's last layer (every layer that can be equalized
    /// when the chain is empty).
    QStringList candidates() const;

    /// Adds a whole group; returns why it is invalid, or "".
    QString addGroup(const core::Group& group, bool suggested = false);
    /// Replaces the list with `groups` (confirmed). Returns the problems found, or "".
    QString setGroups(const std::vector<core::Group>& groups);
    /// Replaces the chains an earlier suggest() proposed with the topology's suggested chains
    /// and regions, and lists the rejected candidates. A chain accepted before stays accepted;
    /// one that shares a pair with a chain built by hand is left out. Returns how many await
    /// acceptance.
    int suggest();
    bool acceptSuggestion(int row);
    bool dropSuggestion(int row);
    bool remove(int row);
    /// Swaps row `row` with row `row + step`; false when either is out of range.
    bool move(int row, int step);
    /// Removes the pair first → second from the accepted groups, splitting its chain in two.
    bool dropPair(const std::string& first, const std::string& second);
    void confirmAll();
    void clear();

    const std::vector<Entry>& entries() const { return entries_; }
    std::vector<core::Group> confirmedGroups() const;
    std::vector<core::Group> suggestedGroups() const;
    std::vector<core::LayerPair> pairs() const;
    std::vector<core::RegionNames> regions() const;
    bool hasSuggestions() const;
    bool isSuggestion(int row) const;
    bool isGuessed(int row) const;
    const std::vector<core::Rejection>& rejected() const { return rejected_; }

    /// Reads/writes {"groups": [...], "regions": [...]}. Return an error sentence, or "".
    QString loadFile(const QString& path);
    QString saveFile(const QString& path) const;

signals:
    /// The groups, regions or suggestions changed.
    void groupsChanged();
    /// The chain being built (or the rule that checks it) changed.
    void chainChanged();
    /// The candidates the last suggest() left out changed.
    void rejectedChanged();
    /// What the last edit found wrong, to show beside the list ("" clears it).
    void problemChanged(const QString& problem);

private:
    bool checkGroup(const core::Group& group, QString& problem) const;

    std::shared_ptr<const LoadedModel> model_;
    bool allowRelu6_ = false;
    bool suggested_ = false;  ///< suggest() ran for this model
    core::Group chain_;
    std::vector<Entry> entries_;
    std::vector<core::Rejection> rejected_;
};

}  // namespace cle::ui
