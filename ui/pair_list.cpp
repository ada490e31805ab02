#include "ui/pair_list.h"

#include <exception>
#include <set>

#include "cle/core/weight_file.h"
#include "ui/pair_groups.h"

namespace cle::ui {

namespace {

using PairKey = std::pair<std::string, std::string>;

void insertPairs(const core::Group& group, std::set<PairKey>& into) {
    for (size_t i = 0; i + 1 < group.size(); ++i) into.insert({group[i], group[i + 1]});
}

bool sharesPair(const core::Group& group, const std::set<PairKey>& taken) {
    for (size_t i = 0; i + 1 < group.size(); ++i)
        if (taken.count({group[i], group[i + 1]})) return true;
    return false;
}

PairList::Entry regionEntry(const core::RegionNames& region, bool suggested, bool fromSuggest) {
    PairList::Entry e{region.sources, suggested, false, fromSuggest, region};
    e.layers.insert(e.layers.end(), region.sinks.begin(), region.sinks.end());
    return e;
}

}  // namespace

PairList::PairList(QObject* parent) : QObject(parent) {}

void PairList::setModel(std::shared_ptr<const LoadedModel> model) {
    model_ = std::move(model);
    chain_.clear();
    entries_.clear();
    rejected_.clear();
    suggested_ = false;
    emit rejectedChanged();
    emit groupsChanged();
    emit chainChanged();
}

void PairList::setAllowRelu6(bool allow) {
    if (allow == allowRelu6_) return;
    allowRelu6_ = allow;
    if (suggested_) suggest();
    emit chainChanged();
}

QString PairList::problemFor(const core::Group& chain, const std::string& name) const {
    static const core::ModelInfo none;
    const core::Topology* topology = model_ && model_->topology ? &*model_->topology : nullptr;
    return appendProblem(model_ ? model_->model.info : none, chain, name, topology, allowRelu6_);
}

QString PairList::appendToChain(const std::string& name) {
    const QString problem = problemFor(chain_, name);
    if (!problem.isEmpty()) {
        emit problemChanged(problem);
        return problem;
    }
    chain_.push_back(name);
    emit chainChanged();
    return {};
}

void PairList::undoChain() {
    if (!chain_.empty()) chain_.pop_back();
    emit chainChanged();
}

QString PairList::commitChain() {
    if (chain_.size() < 2) {
        const QString problem = tr("A chain needs at least two layers; append another one.");
        emit problemChanged(problem);
        return problem;
    }
    const QString problem = addGroup(chain_);
    if (problem.isEmpty()) {
        chain_.clear();
        emit chainChanged();
    }
    return problem;
}

QStringList PairList::candidates() const {
    QStringList names;
    if (!model_) return names;
    for (const auto& layer : model_->model.info.layers)
        if (problemFor(chain_, layer.name).isEmpty()) names << QString::fromStdString(layer.name);
    return names;
}

bool PairList::checkGroup(const core::Group& group, QString& problem) const {
    if (group.size() < 2) {
        problem = tr("A group needs at least two layers.");
        return false;
    }
    core::Group partial;
    for (const auto& name : group) {
        problem = problemFor(partial, name);
        if (!problem.isEmpty()) return false;
        partial.push_back(name);
    }
    return true;
}

QString PairList::addGroup(const core::Group& group, bool suggested) {
    QString problem;
    if (!checkGroup(group, problem)) {
        if (group.size() >= 2) emit problemChanged(problem);
        return problem;
    }
    entries_.push_back({group, suggested});
    emit groupsChanged();
    emit problemChanged({});
    return {};
}

QString PairList::setGroups(const std::vector<core::Group>& groups) {
    entries_.clear();
    QStringList problems;
    for (const auto& g : groups) {
        QString problem;
        if (checkGroup(g, problem))
            entries_.push_back({g, false});
        else
            problems << tr("%1: %2").arg(displayText(g), problem);
    }
    emit groupsChanged();
    emit problemChanged(problems.join('\n'));
    return problems.join('\n');
}

int PairList::suggest() {
    if (!model_) return 0;
    if (!model_->topology) {
        emit problemChanged(tr("No suggestions: %1").arg(model_->topologyError));
        return 0;
    }
    suggested_ = true;
    const core::PairPlan plan = model_->topology->suggest(allowRelu6_);
    // What an earlier Suggest proposed is replaced; what the user built or loaded stays.
    std::set<core::Group> accepted;
    std::set<PairKey> taken;
    std::erase_if(entries_, [&](const Entry& e) {
        if (e.fromSuggest && !e.suggested) accepted.insert(e.layers);
        return e.fromSuggest;
    });
    for (const auto& e : entries_) insertPairs(e.layers, taken);
    int waiting = 0, overlapping = 0;
    for (const auto& s : plan.suggested) {
        if (s.layers.size() < 2) continue;
        if (sharesPair(s.layers, taken)) {
            ++overlapping;
            continue;
        }
        insertPairs(s.layers, taken);
        const bool wasAccepted = accepted.count(s.layers) > 0;
        entries_.push_back({s.layers, !wasAccepted, s.guessed, true});
        if (!wasAccepted) ++waiting;
    }
    for (const auto& r : plan.regions) {
        Entry e = regionEntry({r.region.sources, r.region.sinks}, true, true);
        e.suggested = !accepted.count(e.layers);
        if (e.suggested) ++waiting;
        entries_.push_back(std::move(e));
    }
    rejected_ = plan.rejected;
    emit rejectedChanged();
    emit groupsChanged();
    if (plan.suggested.empty() && plan.regions.empty())
        emit problemChanged(
            tr("The layer graph offers no pair that can be equalized without "
               "changing the network's function; see \"Not suggested\" for the "
               "reasons."));
    else if (overlapping > 0)
        emit problemChanged(
            tr("%n suggested chain(s) left out: they share a pair with a chain "
               "already in the list.",
               nullptr, overlapping));
    else
        emit problemChanged({});
    return waiting;
}

bool PairList::acceptSuggestion(int row) {
    if (!isSuggestion(row)) return false;
    entries_[static_cast<size_t>(row)].suggested = false;
    emit groupsChanged();
    return true;
}

bool PairList::dropSuggestion(int row) {
    if (!isSuggestion(row)) return false;
    return remove(row);
}

bool PairList::remove(int row) {
    if (row < 0 || row >= static_cast<int>(entries_.size())) return false;
    entries_.erase(entries_.begin() + row);
    emit groupsChanged();
    return true;
}

bool PairList::move(int row, int step) {
    const int to = row + step;
    const int n = static_cast<int>(entries_.size());
    if (row < 0 || row >= n || to < 0 || to >= n) return false;
    std::swap(entries_[static_cast<size_t>(row)], entries_[static_cast<size_t>(to)]);
    emit groupsChanged();
    return true;
}

bool PairList::dropPair(const std::string& first, const std::string& second) {
    for (size_t e = 0; e < entries_.size(); ++e) {
        const Entry entry = entries_[e];
        if (entry.suggested || entry.region) continue;
        for (size_t i = 0; i + 1 < entry.layers.size(); ++i) {
            if (entry.layers[i] != first || entry.layers[i + 1] != second) continue;
            entries_.erase(entries_.begin() + long(e));
            const core::Group head(entry.layers.begin(), entry.layers.begin() + long(i) + 1);
            const core::Group tail(entry.layers.begin() + long(i) + 1, entry.layers.end());
            auto at = entries_.begin() + long(e);
            for (const auto* part : {&tail, &head})
                if (part->size() >= 2) {
                    Entry piece = entry;
                    piece.layers = *part;
                    at = entries_.insert(at, piece);
                }
            emit groupsChanged();
            return true;
        }
    }
    return false;
}

void PairList::confirmAll() {
    for (auto& e : entries_) e.suggested = false;
    emit groupsChanged();
}

void PairList::clear() {
    suggested_ = false;
    entries_.clear();
    rejected_.clear();
    emit rejectedChanged();
    emit groupsChanged();
}

std::vector<core::Group> PairList::confirmedGroups() const {
    std::vector<core::Group> out;
    for (const auto& e : entries_)
        if (!e.suggested && !e.region) out.push_back(e.layers);
    return out;
}

std::vector<core::RegionNames> PairList::regions() const {
    std::vector<core::RegionNames> out;
    for (const auto& e : entries_)
        if (!e.suggested && e.region) out.push_back(*e.region);
    return out;
}

std::vector<core::Group> PairList::suggestedGroups() const {
    std::vector<core::Group> out;
    for (const auto& e : entries_)
        if (e.suggested && !e.region) out.push_back(e.layers);
    return out;
}

std::vector<core::LayerPair> PairList::pairs() const {
    const auto groups = confirmedGroups();
    return groups.empty() ? std::vector<core::LayerPair>{} : core::expandGroups(groups);
}

bool PairList::hasSuggestions() const {
    for (const auto& e : entries_)
        if (e.suggested) return true;
    return false;
}

bool PairList::isSuggestion(int row) const {
    return row >= 0 && row < static_cast<int>(entries_.size()) &&
           entries_[static_cast<size_t>(row)].suggested;
}

bool PairList::isGuessed(int row) const {
    return isSuggestion(row) && entries_[static_cast<size_t>(row)].guessed;
}

QString PairList::loadFile(const QString& path) {
    try {
        const auto regions = core::readRegionsFile(path.toStdString());
        const QString problems = setGroups(core::readGroupsFile(path.toStdString()));
        for (const auto& r : regions) entries_.push_back(regionEntry(r, false, false));
        if (!regions.empty()) emit groupsChanged();
        return problems;
    } catch (const std::exception& e) {
        return QString::fromStdString(e.what());
    }
}

QString PairList::saveFile(const QString& path) const {
    try {
        core::writeGroupsFile(path.toStdString(), confirmedGroups(), regions());
    } catch (const std::exception& e) {
        return QString::fromStdString(e.what());
    }
    return {};
}

}  // namespace cle::ui
