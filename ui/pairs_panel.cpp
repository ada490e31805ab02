#include "ui/pairs_panel.h"

#include <algorithm>

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
QPushButton* makeButton(const QString& text, const QString& tip, QWidget* parent) {
    auto* b = new QPushButton(text, parent);
    b->setToolTip(tip);
    // As narrow as the text: the column must fit beside the plots on a 1280-pixel screen.
    b->setMinimumWidth(b->fontMetrics().horizontalAdvance(text) + 18);
    b->setSizePolicy(QSizePolicy::Minimum, QSizePolicy::Fixed);
    b->setStyleSheet(QStringLiteral("padding: 3px 6px;"));
    return b;
}
}  // namespace

PairsPanel::PairsPanel(PairList* pairs, QWidget* parent)
    : QWidget(parent),
      pairs_(pairs),
      chainLabel_(new QLabel(this)),
      layerCombo_(new QComboBox(this)),
      appendButton_(makeButton(tr("Append"), tr("Append the chosen layer to the chain"), this)),
      undoButton_(makeButton(tr("Undo"), tr("Remove the last layer of the chain"), this)),
      commitButton_(makeButton(tr("Add chain"), tr("Add the chain to the list of groups"), this)),
      problemLabel_(new QLabel(this)),
      list_(new QListWidget(this)),
      rejectedList_(new RejectedList(this)),
      suggestionNote_(new QLabel(this)) {
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
    connectList();
    rebuildList();
    refreshChain();
}

QWidget* PairsPanel::createButtons() {
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

void PairsPanel::connectButtons() {
    connect(layerCombo_, &QComboBox::currentIndexChanged, this, &PairsPanel::updateComboProblem);
    connect(appendButton_, &QPushButton::clicked, this,
            [this] { pairs_->appendToChain(layerCombo_->currentText().toStdString()); });
    connect(undoButton_, &QPushButton::clicked, pairs_, &PairList::undoChain);
    connect(commitButton_, &QPushButton::clicked, this, [this] { pairs_->commitChain(); });
    connect(suggestButton_, &QPushButton::clicked, this, [this] { pairs_->suggest(); });
    connect(acceptButton_, &QPushButton::clicked, this,
            [this] { pairs_->acceptSuggestion(list_->currentRow()); });
    connect(dropButton_, &QPushButton::clicked, this,
            [this] { pairs_->dropSuggestion(list_->currentRow()); });
    connect(list_, &QListWidget::itemDoubleClicked, this,
            [this](QListWidgetItem* item) { pairs_->acceptSuggestion(list_->row(item)); });
    connect(list_, &QListWidget::currentRowChanged, this, &PairsPanel::updateButtons);
    connect(acceptAllButton_, &QPushButton::clicked, pairs_, &PairList::confirmAll);
    connect(removeButton_, &QPushButton::clicked, this,
            [this] { pairs_->remove(list_->currentRow()); });
    for (auto [button, step] : {std::pair{upButton_, -1}, std::pair{downButton_, 1}})
        connect(button, &QPushButton::clicked, this, [this, step] {
            const int row = list_->currentRow();
            if (pairs_->move(row, step)) list_->setCurrentRow(row + step);
        });
    connect(clearButton_, &QPushButton::clicked, pairs_, &PairList::clear);
    connect(loadButton_, &QPushButton::clicked, this, &PairsPanel::loadRequested);
    connect(saveButton_, &QPushButton::clicked, this, &PairsPanel::saveRequested);
}

void PairsPanel::connectList() {
    connect(pairs_, &PairList::groupsChanged, this, &PairsPanel::rebuildList);
    connect(pairs_, &PairList::chainChanged, this, &PairsPanel::refreshChain);
    connect(pairs_, &PairList::problemChanged, this, &PairsPanel::showProblem);
    connect(pairs_, &PairList::rejectedChanged, this,
            [this] { rejectedList_->setRejections(pairs_->rejected()); });
}

void PairsPanel::refreshCandidates() {
    const QString current = layerCombo_->currentText();
    const QStringList names = pairs_->candidates();
    const core::Group& chain = pairs_->chain();
    {
        QSignalBlocker block(layerCombo_);
        layerCombo_->clear();
        layerCombo_->addItems(names);
        layerCombo_->setCurrentIndex(std::max(0, int(names.indexOf(current))));
    }
    layerCombo_->setPlaceholderText(chain.empty() ? tr("no layer can be equalized")
                                                  : tr("no layer can follow"));
    if (names.isEmpty() && !chain.empty()) {
        layerCombo_->setToolTip(
            tr("No layer can follow %1 in a pair.").arg(QString::fromStdString(chain.back())));
    } else {
        layerCombo_->setToolTip(tr("The layers that can follow the chain's last layer"));
    }
}

QString PairsPanel::problemText() const {
    return problemLabel_->isHidden() ? QString() : problemLabel_->text();
}

void PairsPanel::setBusy(bool busy) {
    busy_ = busy;
    layerCombo_->setEnabled(!busy);
    refreshChain();
    updateButtons();
}

void PairsPanel::updateButtons() {
    const int row = list_->currentRow();
    const int count = static_cast<int>(pairs_->entries().size());
    const bool selected = row >= 0 && row < count;
    const bool model = pairs_->hasModel();
    suggestButton_->setEnabled(!busy_ && model);
    acceptButton_->setEnabled(!busy_ && pairs_->isSuggestion(row));
    dropButton_->setEnabled(!busy_ && pairs_->isSuggestion(row));
    acceptAllButton_->setEnabled(!busy_ && pairs_->hasSuggestions());
    removeButton_->setEnabled(!busy_ && selected);
    upButton_->setEnabled(!busy_ && selected && row > 0);
    downButton_->setEnabled(!busy_ && selected && row + 1 < count);
    clearButton_->setEnabled(!busy_ && count > 0);
    loadButton_->setEnabled(!busy_ && model);
    saveButton_->setEnabled(!pairs_->confirmedGroups().empty() || !pairs_->regions().empty());
}

namespace {

QString listText(const std::vector<std::string>& names) {
    QStringList parts;
    for (const auto& n : names) parts << QString::fromStdString(n);
    return parts.join(QStringLiteral(", "));
}

}  // namespace

void PairsPanel::rebuildList() {
    const int row = list_->currentRow();
    const QSignalBlocker block(list_);
    list_->clear();
    bool guessed = false;
    for (const auto& e : pairs_->entries()) {
        auto* item = new QListWidgetItem(list_);
        const int pairs = static_cast<int>(e.layers.size()) - 1;
        item->setText(tr("%1   (%n pair(s))", nullptr, pairs).arg(displayText(e.layers)));
        if (e.region)
            item->setText(
                tr("Region: %1 => %2").arg(listText(e.region->sources), listText(e.region->sinks)));
        if (!e.suggested) continue;
        guessed = guessed || e.guessed;
        item->setText((e.guessed ? tr("Suggested, guessed from names: %1") : tr("Suggested: %1"))
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
    if (pairs_->hasSuggestions()) {
        note = tr("Suggestions (italic) are not run until accepted.");
        if (guessed)
            note += QLatin1Char(' ') +
                    tr("Chains marked \"guessed\" come from layer names and shapes, not from a "
                       "layer graph: check them first.");
    }
    suggestionNote_->setText(note);
    suggestionNote_->setVisible(!note.isEmpty());
    updateButtons();
}

void PairsPanel::refreshChain() {
    chainLabel_->setText(pairs_->chain().empty()
                             ? tr("Chain: empty. Pick a first layer below or double-click one in "
                                  "the table.")
                             : tr("Chain: %1").arg(displayText(pairs_->chain())));
    undoButton_->setEnabled(!busy_ && !pairs_->chain().empty());
    refreshCandidates();
    commitButton_->setEnabled(!busy_ && pairs_->chain().size() >= 2);
    updateComboProblem();
}

void PairsPanel::showProblem(const QString& text) {
    problemLabel_->setText(text);
    problemLabel_->setVisible(!text.isEmpty());
}

void PairsPanel::updateComboProblem() {
    const QString name = layerCombo_->currentText();
    const QString problem =
        name.isEmpty() ? QString() : pairs_->problemFor(pairs_->chain(), name.toStdString());
    appendButton_->setEnabled(!busy_ && !name.isEmpty() && problem.isEmpty());
    appendButton_->setToolTip(problem.isEmpty() ? tr("Append the chosen layer to the chain")
                                                : problem);
    showProblem(problem);
}

}  // namespace cle::ui
