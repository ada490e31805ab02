#include "ui/pairs_panel.h"

#include <algorithm>
#include <exception>
#include <set>

#include <QComboBox>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QVBoxLayout>

#include "ui/pair_groups.h"
#include "ui/rejected_list.h"

namespace cle::ui {

namespace {
QPushButton* makeButton(const QString& text, const QString& tip, QWidget* parent)
{
    auto* b = new QPushButton(text, parent);
    b->setToolTip(tip);
    // As narrow as the text: the column must fit beside the plots on a 1280-pixel screen.
    b->setMinimumWidth(b->fontMetrics().horizontalAdvance(text) + 18);
    b->setSizePolicy(QSizePolicy::Minimum, QSizePolicy::Fixed);
    b->setStyleSheet(QStringLiteral("padding: 3px 6px;"));
    return b;
}
}  // namespace

PairsPanel::PairsPanel(QWidget* parent)
    : QWidget(parent),
      chainLabel_(new QLabel(this)),
      layerCombo_(new QComboBox(this)),
      appendButton_(makeButton(tr("Append"), tr("Append the chosen layer to the chain"), this)),
      undoButton_(makeButton(tr("Undo"), tr("Remove the last layer of the chain"), this)),
      commitButton_(makeButton(tr("Add chain"), tr("Add the chain to the list of groups"), this)),
      problemLabel_(new QLabel(this)),
      list_(new QListWidget(this)),
      rejectedList_(new RejectedList(this)),
      suggestionNote_(new QLabel(this))
{
    chainLabel_->setWordWrap(true);
    chainLabel_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layerCombo_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    layerCombo_->setMinimumContentsLength(10);
    problemLabel_->setWordWrap(true);
    problemLabel_->setStyleSheet(QStringLiteral("color: #b3261e;"));
    problemLabel_->hide();
    suggestionNote_->setWordWrap(true);
    suggestionNote_->setStyleSheet(QStringLiteral("color: #8a5a00;"));
    suggestionNote_->hide();
    list_->setSelectionMode(QAbstractItemView::SingleSelection);
    list_->setWordWrap(true);
    list_->setSpacing(2);

    auto* builder = new QGridLayout;
    builder->addWidget(new QLabel(tr("Next layer:"), this), 0, 0);
    builder->addWidget(layerCombo_, 0, 1);
    // The buttons go under the combo box, so the column stays narrow on a small screen.
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(appendButton_);
    buttons->addWidget(undoButton_);
    buttons->addWidget(commitButton_);
    buttons->addStretch();
    builder->addLayout(buttons, 1, 1);
    builder->setColumnStretch(1, 1);

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(chainLabel_);
    layout->addLayout(builder);
    layout->addWidget(problemLabel_);
    layout->addWidget(list_, 2);
    layout->addWidget(suggestionNote_);
    layout->addWidget(createButtons());
    layout->addWidget(rejectedList_, 1);
    connectButtons();
    refreshChain();
}

QWidget* PairsPanel::createButtons()
{
    suggestButton_ = makeButton(tr("Suggest"),
                                tr("Suggest chains from the network's layer graph (from names "
                                   "and shapes where the file has none)"),
                                this);
    acceptButton_ = makeButton(tr("Accept"), tr("Accept the selected suggestion"), this);
    dropButton_ = makeButton(tr("Drop"), tr("Drop the selected suggestion"), this);
    acceptAllButton_ = makeButton(tr("Accept all"), tr("Accept every suggestion"), this);
    removeButton_ = makeButton(tr("Remove"), tr("Remove the selected group"), this);
    upButton_ = makeButton(QStringLiteral("▲"), tr("Move the selected group up"), this);
    downButton_ = makeButton(QStringLiteral("▼"), tr("Move the selected group down"), this);
    clearButton_ = makeButton(tr("Clear"), tr("Remove every group"), this);
    loadButton_ = makeButton(tr("Load…"), tr("Load groups from a pairs JSON file"), this);
    saveButton_ = makeButton(tr("Save…"), tr("Save the accepted groups as JSON"), this);

    auto* buttons = new QWidget(this);
    auto* rows = new QVBoxLayout(buttons);
    rows->setContentsMargins(0, 0, 0, 0);
    auto* row1 = new QHBoxLayout;
    for (auto* b : {suggestButton_, acceptButton_, dropButton_, acceptAllButton_})
        row1->addWidget(b);
    row1->addStretch();
    auto* row2 = new QHBoxLayout;
    for (auto* b : {removeButton_, upButton_, downButton_, clearButton_}) row2->addWidget(b);
    row2->addSpacing(6);
    row2->addWidget(loadButton_);
    row2->addWidget(saveButton_);
    row2->addStretch();
    rows->addLayout(row1);
    rows->addLayout(row2);
    return buttons;
}

void PairsPanel::connectButtons()
{
    connect(layerCombo_, &QComboBox::currentIndexChanged, this, &PairsPanel::updateComboProblem);
    connect(appendButton_, &QPushButton::clicked, this,
            [this] { appendToChain(layerCombo_->currentText()); });
    connect(undoButton_, &QPushButton::clicked, this, [this] {
        if (!chain_.empty()) chain_.pop_back();
        refreshChain();
    });
    connect(commitButton_, &QPushButton::clicked, this, [this] { commitChain(); });
    connect(suggestButton_, &QPushButton::clicked, this, [this] { suggest(); });
    connect(acceptButton_, &QPushButton::clicked, this,
            [this] { acceptSuggestion(list_->currentRow()); });
    connect(dropButton_, &QPushButton::clicked, this,
            [this] { dropSuggestion(list_->currentRow()); });
    connect(list_, &QListWidget::itemDoubleClicked, this,
            [this](QListWidgetItem* item) { acceptSuggestion(list_->row(item)); });
    connect(list_, &QListWidget::currentRowChanged, this, &PairsPanel::updateButtons);
    connect(acceptAllButton_, &QPushButton::clicked, this, &PairsPanel::confirmAll);
    connect(removeButton_, &QPushButton::clicked, this, [this] {
        const int row = list_->currentRow();
        if (row < 0 || row >= static_cast<int>(entries_.size())) return;
        entries_.erase(entries_.begin() + row);
        rebuildList();
    });
    connect(upButton_, &QPushButton::clicked, this, [this] { moveSelected(-1); });
    connect(downButton_, &QPushButton::clicked, this, [this] { moveSelected(1); });
    connect(clearButton_, &QPushButton::clicked, this, &PairsPanel::clear);
    connect(loadButton_, &QPushButton::clicked, this, &PairsPanel::loadRequested);
    connect(saveButton_, &QPushButton::clicked, this, &PairsPanel::saveRequested);
}

void PairsPanel::setModel(std::shared_ptr<const LoadedModel> model)
{
    model_ = std::move(model);
    info_ = model_ ? model_->model.info : core::ModelInfo{};
    chain_.clear();
    entries_.clear();
    rejected_.clear();
    rejectedList_->clear();
    suggested_ = false;
    rebuildList();
    refreshChain();
}

QString PairsPanel::appendToChain(const QString& name)
{
    const std::string n = name.toStdString();
    const QString problem = problemFor(chain_, n);
    if (!problem.isEmpty()) {
        showProblem(problem);
        return problem;
    }
    chain_.push_back(n);
    refreshChain();
    return {};
}

QString PairsPanel::commitChain()
{
    if (chain_.size() < 2) {
        const QString problem = tr("A chain needs at least two layers; append another one.");
        showProblem(problem);
        return problem;
    }
    const QString problem = addGroup(chain_);
    if (problem.isEmpty()) {
        chain_.clear();
        refreshChain();
    }
    return problem;
}

QString PairsPanel::addGroup(const core::Group& group, bool suggested)
{
    if (group.size() < 2) return tr("A group needs at least two layers.");
    core::Group partial;
    for (const auto& name : group) {
        const QString problem = problemFor(partial, name);
        if (!problem.isEmpty()) {
            showProblem(problem);
            return problem;
        }
        partial.push_back(name);
    }
    entries_.push_back({group, suggested});
    rebuildList();
    showProblem({});
    return {};
}

QString PairsPanel::setGroups(const std::vector<core::Group>& groups)
{
    entries_.clear();
    QStringList problems;
    for (const auto& g : groups) {
        const QString p = addGroup(g);
        if (!p.isEmpty()) problems << tr("%1: %2").arg(displayText(g), p);
    }
    rebuildList();
    showProblem(problems.join('\n'));
    return problems.join('\n');
}

namespace {

QString listText(const std::vector<std::string>& names)
{
    QStringList parts;
    for (const auto& n : names) parts << QString::fromStdString(n);
    return parts.join(QStringLiteral(", "));
}

}  // namespace

int PairsPanel::suggest()
{
    if (!model_) return 0;
    if (!model_->topology) {
        showProblem(tr("No suggestions: %1").arg(model_->topologyError));
        return 0;
    }
    suggested_ = true;
    const core::PairPlan plan = model_->topology->suggest(allowRelu6_);
    // What an earlier Suggest proposed is replaced; what the user built or loaded stays.
    std::set<core::Group> accepted;
    std::set<std::pair<std::string, std::string>> taken;
    std::erase_if(entries_, [&](const Entry& e) {
        if (e.fromSuggest && !e.suggested) accepted.insert(e.layers);
        return e.fromSuggest;
    });
    for (const auto& e : entries_)
        for (size_t i = 0; i + 1 < e.layers.size(); ++i)
            taken.insert({e.layers[i], e.layers[i + 1]});
    int waiting = 0, overlapping = 0;
    for (const auto& s : plan.suggested) {
        if (s.layers.size() < 2) continue;
        bool overlaps = false;
        for (size_t i = 0; i + 1 < s.layers.size(); ++i)
            overlaps = overlaps || taken.count({s.layers[i], s.layers[i + 1]});
        if (overlaps) {
            ++overlapping;
            continue;
        }
        for (size_t i = 0; i + 1 < s.layers.size(); ++i)
            taken.insert({s.layers[i], s.layers[i + 1]});
        const bool wasAccepted = accepted.count(s.layers) > 0;
        entries_.push_back({s.layers, !wasAccepted, s.guessed, true});
        if (!wasAccepted) ++waiting;
    }
    for (const auto& r : plan.regions) {
        Entry e{r.region.sources, true, false, true, core::RegionNames{r.region.sources,
                                                                       r.region.sinks}};
        e.layers.insert(e.layers.end(), r.region.sinks.begin(), r.region.sinks.end());
        e.suggested = !accepted.count(e.layers);
        if (e.suggested) ++waiting;
        entries_.push_back(std::move(e));
    }
    rejected_ = plan.rejected;
    rejectedList_->setRejections(rejected_);
    rebuildList();
    if (plan.suggested.empty() && plan.regions.empty())
        showProblem(tr("The layer graph offers no pair that can be equalized without changing "
                       "the network's function; see \"Not suggested\" for the reasons."));
    else if (overlapping > 0)
        showProblem(tr("%n suggested chain(s) left out: they share a pair with a chain already in "
                       "the list.", nullptr, overlapping));
    else
        showProblem({});
    return waiting;
}

void PairsPanel::setAllowRelu6(bool allow)
{
    if (allow == allowRelu6_) return;
    allowRelu6_ = allow;
    if (suggested_) suggest();
    refreshCandidates();
    updateComboProblem();
}

QString PairsPanel::problemFor(const core::Group& chain, const std::string& name) const
{
    const core::Topology* topology = model_ && model_->topology ? &*model_->topology : nullptr;
    return appendProblem(info_, chain, name, topology, allowRelu6_);
}

QStringList PairsPanel::candidates() const
{
    QStringList names;
    for (const auto& layer : info_.layers)
        if (problemFor(chain_, layer.name).isEmpty()) names << QString::fromStdString(layer.name);
    return names;
}

void PairsPanel::refreshCandidates()
{
    const QString current = layerCombo_->currentText();
    const QStringList names = candidates();
    {
        QSignalBlocker block(layerCombo_);
        layerCombo_->clear();
        layerCombo_->addItems(names);
        layerCombo_->setCurrentIndex(std::max(0, int(names.indexOf(current))));
    }
    layerCombo_->setPlaceholderText(chain_.empty() ? tr("no layer can be equalized")
                                                   : tr("no layer can follow"));
    if (names.isEmpty() && !chain_.empty()) {
        layerCombo_->setToolTip(tr("No layer can follow %1 in a pair.")
                                    .arg(QString::fromStdString(chain_.back())));
    } else {
        layerCombo_->setToolTip(tr("The layers that can follow the chain's last layer"));
    }
}

bool PairsPanel::acceptSuggestion(int row)
{
    if (!isSuggestion(row)) return false;
    entries_[static_cast<size_t>(row)].suggested = false;
    rebuildList();
    list_->setCurrentRow(row);
    return true;
}

bool PairsPanel::dropSuggestion(int row)
{
    if (!isSuggestion(row)) return false;
    entries_.erase(entries_.begin() + row);
    rebuildList();
    return true;
}

bool PairsPanel::dropPair(const std::string& first, const std::string& second)
{
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
            rebuildList();
            return true;
        }
    }
    return false;
}

void PairsPanel::confirmAll()
{
    for (auto& e : entries_) e.suggested = false;
    rebuildList();
}

void PairsPanel::clear()
{
    suggested_ = false;
    entries_.clear();
    rejected_.clear();
    rejectedList_->clear();
    rebuildList();
}

std::vector<core::Group> PairsPanel::confirmedGroups() const
{
    std::vector<core::Group> out;
    for (const auto& e : entries_)
        if (!e.suggested && !e.region) out.push_back(e.layers);
    return out;
}

std::vector<core::RegionNames> PairsPanel::regions() const
{
    std::vector<core::RegionNames> out;
    for (const auto& e : entries_)
        if (!e.suggested && e.region) out.push_back(*e.region);
    return out;
}

std::vector<core::Group> PairsPanel::suggestedGroups() const
{
    std::vector<core::Group> out;
    for (const auto& e : entries_)
        if (e.suggested && !e.region) out.push_back(e.layers);
    return out;
}

std::vector<core::LayerPair> PairsPanel::pairs() const
{
    const auto groups = confirmedGroups();
    return groups.empty() ? std::vector<core::LayerPair>{} : core::expandGroups(groups);
}

bool PairsPanel::hasSuggestions() const
{
    for (const auto& e : entries_)
        if (e.suggested) return true;
    return false;
}

bool PairsPanel::isSuggestion(int row) const
{
    return row >= 0 && row < static_cast<int>(entries_.size()) &&
           entries_[static_cast<size_t>(row)].suggested;
}

bool PairsPanel::isGuessed(int row) const
{
    return isSuggestion(row) && entries_[static_cast<size_t>(row)].guessed;
}

QString PairsPanel::problemText() const
{
    return problemLabel_->isHidden() ? QString() : problemLabel_->text();
}

QString PairsPanel::loadFile(const QString& path)
{
    try {
        const auto regions = core::readRegionsFile(path.toStdString());
        QString problems = setGroups(core::readGroupsFile(path.toStdString()));
        for (const auto& r : regions) {
            Entry e{r.sources, false, false, false, r};
            e.layers.insert(e.layers.end(), r.sinks.begin(), r.sinks.end());
            entries_.push_back(std::move(e));
        }
        if (!regions.empty()) rebuildList();
        return problems;
    } catch (const std::exception& e) {
        return QString::fromStdString(e.what());
    }
}

QString PairsPanel::saveFile(const QString& path) const
{
    try {
        core::writeGroupsFile(path.toStdString(), confirmedGroups(), regions());
    } catch (const std::exception& e) {
        return QString::fromStdString(e.what());
    }
    return {};
}

void PairsPanel::setBusy(bool busy)
{
    busy_ = busy;
    layerCombo_->setEnabled(!busy);
    refreshChain();
    updateButtons();
}

void PairsPanel::updateButtons()
{
    const int row = list_->currentRow();
    const bool selected = row >= 0 && row < static_cast<int>(entries_.size());
    suggestButton_->setEnabled(!busy_ && model_);
    acceptButton_->setEnabled(!busy_ && isSuggestion(row));
    dropButton_->setEnabled(!busy_ && isSuggestion(row));
    acceptAllButton_->setEnabled(!busy_ && hasSuggestions());
    removeButton_->setEnabled(!busy_ && selected);
    upButton_->setEnabled(!busy_ && selected && row > 0);
    downButton_->setEnabled(!busy_ && selected && row + 1 < static_cast<int>(entries_.size()));
    clearButton_->setEnabled(!busy_ && !entries_.empty());
    loadButton_->setEnabled(!busy_ && model_);
    saveButton_->setEnabled(!confirmedGroups().empty() || !regions().empty());
}

void PairsPanel::rebuildList()
{
    const int row = list_->currentRow();
    const QSignalBlocker block(list_);
    list_->clear();
    bool guessed = false;
    for (const auto& e : entries_) {
        auto* item = new QListWidgetItem(list_);
        const int pairs = static_cast<int>(e.layers.size()) - 1;
        item->setText(tr("%1   (%n pair(s))", nullptr, pairs).arg(displayText(e.layers)));
        if (e.region)
            item->setText(tr("Region: %1 => %2").arg(listText(e.region->sources),
                                                     listText(e.region->sinks)));
        if (!e.suggested) continue;
        guessed = guessed || e.guessed;
        item->setText((e.guessed ? tr("Suggested, guessed from names: %1")
                                 : tr("Suggested: %1"))
                          .arg(item->text()));
        QFont f = item->font();
        f.setItalic(true);
        item->setFont(f);
        item->setForeground(e.guessed ? QColor(0xa0, 0x3c, 0x00) : QColor(0x8a, 0x5a, 0x00));
        item->setToolTip(e.guessed ? tr("The file has no layer graph: this chain was guessed from "
                                        "layer names and shapes. Check that the layers follow "
                                        "each other in the network before accepting it.")
                                   : tr("Follows the network's layer graph. Accept it (Accept or "
                                        "double-click) to include it in runs, or drop it."));
    }
    if (row >= 0 && row < list_->count()) list_->setCurrentRow(row);
    QString note;
    if (hasSuggestions()) {
        note = tr("Suggestions (italic) are not run until accepted.");
        if (guessed)
            note += QLatin1Char(' ') +
                    tr("Chains marked \"guessed\" come from layer names and shapes, not from a "
                       "layer graph: check them first.");
    }
    suggestionNote_->setText(note);
    suggestionNote_->setVisible(!note.isEmpty());
    updateButtons();
    emit groupsChanged();
}

void PairsPanel::refreshChain()
{
    chainLabel_->setText(chain_.empty()
                             ? tr("Chain: empty. Pick a first layer below or double-click one in "
                                  "the table.")
                             : tr("Chain: %1").arg(displayText(chain_)));
    undoButton_->setEnabled(!busy_ && !chain_.empty());
    refreshCandidates();
    commitButton_->setEnabled(!busy_ && chain_.size() >= 2);
    updateComboProblem();
}

void PairsPanel::showProblem(const QString& text)
{
    problemLabel_->setText(text);
    problemLabel_->setVisible(!text.isEmpty());
}

void PairsPanel::updateComboProblem()
{
    const QString name = layerCombo_->currentText();
    const QString problem = name.isEmpty() ? QString() : problemFor(chain_, name.toStdString());
    appendButton_->setEnabled(!busy_ && !name.isEmpty() && problem.isEmpty());
    appendButton_->setToolTip(problem.isEmpty() ? tr("Append the chosen layer to the chain")
                                                : problem);
    showProblem(problem);
}

void PairsPanel::moveSelected(int step)
{
    const int row = list_->currentRow();
    const int to = row + step;
    if (row < 0 || to < 0 || to >= static_cast<int>(entries_.size())) return;
    std::swap(entries_[static_cast<size_t>(row)], entries_[static_cast<size_t>(to)]);
    rebuildList();
    list_->setCurrentRow(to);
}

}  // namespace cle::ui
