#include "ui/pairs_panel.h"

#include <exception>

#include <QComboBox>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QVBoxLayout>

#include "ui/pair_groups.h"

namespace cle::ui {

namespace {
QPushButton* makeButton(const QString& text, const QString& tip, QWidget* parent)
{
    auto* b = new QPushButton(text, parent);
    b->setToolTip(tip);
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
      confirmButton_(makeButton(tr("Confirm"), tr("Accept the suggested chains"), this)),
      suggestionNote_(new QLabel(this))
{
    chainLabel_->setWordWrap(true);
    chainLabel_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layerCombo_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    layerCombo_->setMinimumContentsLength(16);
    problemLabel_->setWordWrap(true);
    problemLabel_->setStyleSheet(QStringLiteral("color: #b3261e;"));
    problemLabel_->hide();
    suggestionNote_->setWordWrap(true);
    suggestionNote_->setStyleSheet(QStringLiteral("color: #8a5a00;"));
    suggestionNote_->setText(
        tr("Suggested chains (italic) are consecutive layers in file order whose channel counts "
           "match. Check that they follow each other in the network, then confirm."));
    suggestionNote_->hide();
    list_->setSelectionMode(QAbstractItemView::SingleSelection);
    list_->setWordWrap(true);
    list_->setSpacing(2);

    auto* builder = new QGridLayout;
    builder->addWidget(new QLabel(tr("Next layer:"), this), 0, 0);
    builder->addWidget(layerCombo_, 0, 1);
    builder->addWidget(appendButton_, 0, 2);
    builder->addWidget(undoButton_, 0, 3);
    builder->addWidget(commitButton_, 0, 4);
    builder->setColumnStretch(1, 1);

    auto* suggestButton = makeButton(
        tr("Suggest"), tr("Suggest chains of consecutive layers whose channel counts match"), this);
    auto* removeButton = makeButton(tr("Remove"), tr("Remove the selected group"), this);
    auto* upButton = makeButton(tr("Up"), tr("Move the selected group up"), this);
    auto* downButton = makeButton(tr("Down"), tr("Move the selected group down"), this);
    auto* clearButton = makeButton(tr("Clear"), tr("Remove every group"), this);
    auto* loadButton = makeButton(tr("Load…"), tr("Load groups from a pairs JSON file"), this);
    auto* saveButton = makeButton(tr("Save…"), tr("Save the confirmed groups as JSON"), this);
    editButtons_ = {appendButton_, undoButton_, commitButton_, suggestButton, confirmButton_,
                    removeButton, upButton, downButton, clearButton, loadButton};

    auto* row1 = new QHBoxLayout;
    for (auto* b : {suggestButton, confirmButton_, removeButton, upButton, downButton, clearButton})
        row1->addWidget(b);
    row1->addStretch();
    auto* row2 = new QHBoxLayout;
    row2->addWidget(loadButton);
    row2->addWidget(saveButton);
    row2->addStretch();

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(chainLabel_);
    layout->addLayout(builder);
    layout->addWidget(problemLabel_);
    layout->addWidget(list_, 1);
    layout->addWidget(suggestionNote_);
    layout->addLayout(row1);
    layout->addLayout(row2);

    connect(layerCombo_, &QComboBox::currentIndexChanged, this, &PairsPanel::updateComboProblem);
    connect(appendButton_, &QPushButton::clicked, this,
            [this] { appendToChain(layerCombo_->currentText()); });
    connect(undoButton_, &QPushButton::clicked, this, [this] {
        if (!chain_.empty()) chain_.pop_back();
        refreshChain();
    });
    connect(commitButton_, &QPushButton::clicked, this, [this] { commitChain(); });
    connect(suggestButton, &QPushButton::clicked, this, [this] {
        if (suggest() == 0) showProblem(tr("No consecutive layers with matching channel counts."));
    });
    connect(confirmButton_, &QPushButton::clicked, this, &PairsPanel::confirmAll);
    connect(removeButton, &QPushButton::clicked, this, [this] {
        const int row = list_->currentRow();
        if (row < 0) return;
        entries_.erase(entries_.begin() + row);
        rebuildList();
    });
    connect(upButton, &QPushButton::clicked, this, [this] { moveSelected(-1); });
    connect(downButton, &QPushButton::clicked, this, [this] { moveSelected(1); });
    connect(clearButton, &QPushButton::clicked, this, &PairsPanel::clear);
    connect(loadButton, &QPushButton::clicked, this, &PairsPanel::loadRequested);
    connect(saveButton, &QPushButton::clicked, this, &PairsPanel::saveRequested);
    refreshChain();
}

void PairsPanel::setModelInfo(const core::ModelInfo& info)
{
    info_ = info;
    chain_.clear();
    entries_.clear();
    QSignalBlocker block(layerCombo_);
    layerCombo_->clear();
    for (const auto& layer : info_.layers) layerCombo_->addItem(QString::fromStdString(layer.name));
    rebuildList();
    refreshChain();
}

QString PairsPanel::appendToChain(const QString& name)
{
    const std::string n = name.toStdString();
    const QString problem = appendProblem(info_, chain_, n);
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
        const QString problem = appendProblem(info_, partial, name);
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

int PairsPanel::suggest()
{
    int added = 0;
    for (auto& g : suggestGroups(info_)) {
        bool present = false;
        for (const auto& e : entries_) present = present || e.layers == g;
        if (present) continue;
        entries_.push_back({std::move(g), true});
        ++added;
    }
    rebuildList();
    return added;
}

void PairsPanel::confirmAll()
{
    for (auto& e : entries_) e.suggested = false;
    rebuildList();
}

void PairsPanel::clear()
{
    entries_.clear();
    rebuildList();
}

std::vector<core::Group> PairsPanel::confirmedGroups() const
{
    std::vector<core::Group> out;
    for (const auto& e : entries_)
        if (!e.suggested) out.push_back(e.layers);
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

QString PairsPanel::problemText() const
{
    return problemLabel_->isHidden() ? QString() : problemLabel_->text();
}

QString PairsPanel::loadFile(const QString& path)
{
    try {
        return setGroups(core::readGroupsFile(path.toStdString()));
    } catch (const std::exception& e) {
        return QString::fromStdString(e.what());
    }
}

QString PairsPanel::saveFile(const QString& path) const
{
    try {
        core::writeGroupsFile(path.toStdString(), confirmedGroups());
    } catch (const std::exception& e) {
        return QString::fromStdString(e.what());
    }
    return {};
}

void PairsPanel::setBusy(bool busy)
{
    for (auto* b : editButtons_) b->setEnabled(!busy);
    layerCombo_->setEnabled(!busy);
    if (!busy) {
        refreshChain();
        confirmButton_->setEnabled(hasSuggestions());
    }
}

void PairsPanel::rebuildList()
{
    const int row = list_->currentRow();
    list_->clear();
    for (const auto& e : entries_) {
        auto* item = new QListWidgetItem(list_);
        const int pairs = static_cast<int>(e.layers.size()) - 1;
        item->setText(tr("%1   (%n pair(s))", nullptr, pairs).arg(displayText(e.layers)));
        if (e.suggested) {
            item->setText(tr("Suggested: %1").arg(item->text()));
            QFont f = item->font();
            f.setItalic(true);
            item->setFont(f);
            item->setForeground(QColor(0x8a, 0x5a, 0x00));
            item->setToolTip(tr("A suggestion from file order: confirm it to include it in runs"));
        }
    }
    if (row >= 0 && row < list_->count()) list_->setCurrentRow(row);
    confirmButton_->setEnabled(hasSuggestions());
    suggestionNote_->setVisible(hasSuggestions());
    emit groupsChanged();
}

void PairsPanel::refreshChain()
{
    chainLabel_->setText(chain_.empty()
                             ? tr("Chain: empty. Pick a first layer below or double-click one in "
                                  "the table.")
                             : tr("Chain: %1").arg(displayText(chain_)));
    undoButton_->setEnabled(!chain_.empty());
    commitButton_->setEnabled(chain_.size() >= 2);
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
    const QString problem = name.isEmpty() ? QString() : appendProblem(info_, chain_, name.toStdString());
    appendButton_->setEnabled(!name.isEmpty() && problem.isEmpty());
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
