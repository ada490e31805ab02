#include "ui/graph_view.h"

#include <algorithm>
#include <cmath>
#include <deque>

#include <QCompleter>
#include <QFileInfo>
#include <QGraphicsPathItem>
#include <QGraphicsScene>
#include <QGraphicsSimpleTextItem>
#include <QGraphicsView>
#include <QHBoxLayout>
#include <QImage>
#include <QLabel>
#include <QLineEdit>
#include <QPainter>
#include <QPushButton>
#include <QShortcut>
#include <QStackedLayout>
#include <QSvgGenerator>
#include <QVBoxLayout>
#include <QWheelEvent>

#include "ui/plots/quantization_plot.h"
#include "ui/prompter.h"

namespace cle::ui {

namespace {

constexpr int kNodeRole = 0;  // QGraphicsItem::data key: node index
constexpr double kLegibleScale = 0.8;
const QColor kAccepted(0, 140, 110);
const QColor kSuggested(200, 130, 0);
const QColor kRejected(200, 40, 40);

bool isMerge(const std::string& cls) {
    return cls == "Add" || cls == "Concatenate" || cls == "Multiply" || cls == "Subtract" ||
           cls == "Average" || cls == "Maximum";
}

bool isActivation(const std::string& cls) {
    return cls == "ReLU" || cls == "Activation" || cls == "LeakyReLU" || cls == "PReLU" ||
           cls == "ELU" || cls == "Softmax" || cls == "ThresholdedReLU";
}

QPainterPath arrowHead(const QPainterPath& edge) {
    QPainterPath head;
    if (edge.elementCount() < 2) return head;
    const QPointF tip = edge.pointAtPercent(1), back = edge.pointAtPercent(0.97);
    QLineF line(tip, back);
    if (line.length() < 1e-6) return head;
    line.setLength(7);
    QLineF left = line, right = line;
    left.setAngle(line.angle() + 25);
    right.setAngle(line.angle() - 25);
    head.moveTo(tip);
    head.lineTo(left.p2());
    head.lineTo(right.p2());
    head.closeSubpath();
    return head;
}

}  // namespace

QColor nodeFill(const core::GraphNode& node) {
    if (!node.weighted.empty()) return QColor(0xdb, 0xe9, 0xf6);
    if (isMerge(node.cls)) return QColor(0xfd, 0xe2, 0xc4);
    if (isActivation(node.cls)) return QColor(0xee, 0xee, 0xee);
    if (node.cls.find("Pool") != std::string::npos) return QColor(0xe2, 0xf0, 0xd9);
    if (node.cls == "BatchNormalization") return QColor(0xf1, 0xe8, 0xf6);
    return QColor(Qt::white);
}

QColor gainFill(double db) {
    if (!std::isfinite(db)) db = db > 0 ? 6 : -6;
    const double t = std::clamp(std::fabs(db) / 6.0, 0.0, 1.0);
    const QColor full = db >= 0 ? QColor(60, 170, 80) : QColor(215, 60, 50);
    const auto mix = [t](int a, int b) { return int(std::lround(a + (b - a) * t)); };
    return QColor(mix(245, full.red()), mix(245, full.green()), mix(245, full.blue()));
}

GraphView::GraphView(QWidget* parent)
    : QWidget(parent),
      scene_(new QGraphicsScene(this)),
      view_(new QGraphicsView(scene_, this)),
      find_(new QLineEdit(this)),
      legend_(new QLabel(this)),
      placeholder_(new QLabel(this)) {
    view_->setDragMode(QGraphicsView::ScrollHandDrag);
    view_->setRenderHints(QPainter::Antialiasing | QPainter::TextAntialiasing);
    view_->setTransformationAnchor(QGraphicsView::AnchorUnderMouse);
    view_->setViewportUpdateMode(QGraphicsView::SmartViewportUpdate);
    view_->viewport()->installEventFilter(this);
    find_->setPlaceholderText(tr("Find layer (Ctrl+F)"));
    find_->setClearButtonEnabled(true);
    find_->setMinimumWidth(170);
    find_->setMaximumWidth(260);
    auto* shortcut = new QShortcut(QKeySequence::Find, this);
    shortcut->setContext(Qt::WidgetWithChildrenShortcut);
    connect(shortcut, &QShortcut::activated, this, [this] {
        find_->setFocus();
        find_->selectAll();
    });
    connect(find_, &QLineEdit::returnPressed, this, [this] { find(find_->text()); });
    auto* fitButton = new QPushButton(tr("Fit"), this);
    fitButton->setToolTip(tr("Show the whole graph (wheel: zoom, drag: pan)"));
    connect(fitButton, &QPushButton::clicked, this, &GraphView::fit);
    auto* exportButton = new QPushButton(tr("Export…"), this);
    exportButton->setToolTip(tr("Save the graph as PNG or SVG"));
    connect(exportButton, &QPushButton::clicked, this, &GraphView::promptExport);
    legend_->setTextFormat(Qt::RichText);
    legend_->setText(
        tr("<span style='background:#dbe9f6'>&nbsp;weights&nbsp;</span> "
           "<span style='background:#eeeeee'>&nbsp;activation&nbsp;</span> "
           "<span style='background:#e2f0d9'>&nbsp;pool&nbsp;</span> "
           "<span style='background:#f1e8f6'>&nbsp;batch norm&nbsp;</span> "
           "<span style='background:#fde2c4'>&nbsp;Add / Concatenate&nbsp;</span> "
           "<span style='color:#008c6e'><b>━</b> chain</span> "
           "<span style='color:#c88200'><b>┅</b> suggested</span> "
           "<span style='color:#c82828'><b>┅</b> rejected (hover)</span> "
           "<span style='color:#7b3fa0'><b>▢</b> region sources</span> "
           "<span style='color:#0a8fa8'><b>▢</b> sinks</span>"));
    placeholder_->setAlignment(Qt::AlignCenter);
    placeholder_->setWordWrap(true);

    auto* bar = new QHBoxLayout;
    bar->addWidget(find_);
    bar->addWidget(fitButton);
    bar->addWidget(exportButton);
    bar->addStretch();
    legend_->setWordWrap(true);
    stack_ = new QStackedLayout;
    stack_->addWidget(placeholder_);
    stack_->addWidget(view_);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(2, 2, 2, 2);
    layout->addLayout(bar);
    layout->addWidget(legend_);
    layout->addLayout(stack_, 1);
    connect(scene_, &QGraphicsScene::selectionChanged, this, &GraphView::onSelectionChanged);
    setModel(nullptr);
}

GraphView::~GraphView() { disconnect(scene_, nullptr, this, nullptr); }

void GraphView::setModel(std::shared_ptr<const LoadedModel> model) {
    model_ = std::move(model);
    layout_.reset();
    scene_->clear();
    nodeItems_.clear();
    edgeItems_.clear();
    overlays_.clear();
    accepted_.clear();
    suggested_.clear();
    rejected_.clear();
    gains_.clear();
    region_.reset();
    highlighted_ = 0;
    const bool graph = model_ && model_->graph && !model_->graph->nodes.empty();
    placeholder_->setText(!model_ ? tr("Open a model to see its layer graph.")
                          : graph ? tr("Laying the graph out…")
                                  : tr("This file has no layer graph (a PyTorch state dict or "
                                       "Keras 3 weights hold only the weights). The layer table "
                                       "lists its layers in natural order."));
    stack_->setCurrentWidget(placeholder_);
    if (graph && isVisible()) ensureLayout();
}

bool GraphView::ensureLayout() {
    if (layout_) return layout_->valid();
    if (!model_ || !model_->graph || model_->graph->nodes.empty()) return false;
    layout_ = layoutGraph(*model_->graph);
    if (!layout_->valid()) {
        placeholder_->setText(layout_->error);
        return false;
    }
    buildScene();
    stack_->setCurrentWidget(view_);
    fit();
    return true;
}

void GraphView::buildScene() {
    const auto& graph = *model_->graph;
    QFont bold = font();
    bold.setBold(true);
    for (size_t i = 0; i < graph.edges.size(); ++i) {
        QPainterPath path = layout_->edges[i];
        path.addPath(arrowHead(layout_->edges[i]));
        auto* item = scene_->addPath(path, QPen(QColor(120, 120, 120), 1.1));
        item->setZValue(0);
        edgeItems_.push_back(item);
    }
    for (size_t i = 0; i < graph.nodes.size(); ++i) {
        const auto& node = graph.nodes[i];
        QPainterPath shape;
        shape.addRoundedRect(layout_->nodes[i], 5, 5);
        const bool weighted = !node.weighted.empty();
        auto* item = scene_->addPath(shape, nodePen(node), QBrush(nodeFill(node)));
        item->setZValue(2);
        item->setData(kNodeRole, int(i));
        item->setFlag(QGraphicsItem::ItemIsSelectable);
        QStringList tip{QStringLiteral("<b>%1</b> (%2)")
                            .arg(QString::fromStdString(node.name).toHtmlEscaped(),
                                 QString::fromStdString(node.cls))};
        for (const auto& w : node.weighted) tip << tr("weights: %1").arg(QString::fromStdString(w));
        item->setToolTip(tip.join(QStringLiteral("<br>")));
        auto* name = new QGraphicsSimpleTextItem(QString::fromStdString(node.name), item);
        if (weighted) name->setFont(bold);
        auto* cls = new QGraphicsSimpleTextItem(QString::fromStdString(node.cls), item);
        cls->setBrush(QColor(90, 90, 90));
        const QRectF r = layout_->nodes[i];
        const double h = name->boundingRect().height();
        name->setPos(r.center().x() - name->boundingRect().width() / 2, r.center().y() - h);
        cls->setPos(r.center().x() - cls->boundingRect().width() / 2, r.center().y());
        nodeItems_.push_back(item);
    }
    scene_->setSceneRect(layout_->bounds.adjusted(-20, -20, 20, 20));
    QStringList names;
    for (const auto& node : graph.nodes) names << QString::fromStdString(node.name);
    auto* completer = new QCompleter(names, find_);
    completer->setCaseSensitivity(Qt::CaseInsensitive);
    completer->setFilterMode(Qt::MatchContains);
    find_->setCompleter(completer);
    drawOverlays();
    colourNodes();
    outlineRegion(graph, nodeItems_, region_ ? &*region_ : nullptr);
}

void GraphView::showRegion(const core::Region* region) {
    region_.reset();
    if (region) region_ = *region;
    if (layout_ && layout_->valid()) outlineRegion(*model_->graph, nodeItems_, region);
}

std::vector<int> GraphView::pathEdges(int from, int to) const {
    // Breadth-first from `from` along the edges; the edges of the shortest path to `to`.
    const auto& edges = model_->graph->edges;
    std::vector<int> via(model_->graph->nodes.size(), -1);
    std::deque<int> queue{from};
    std::vector<bool> seen(via.size(), false);
    seen[size_t(from)] = true;
    while (!queue.empty() && !seen[size_t(to)]) {
        const int n = queue.front();
        queue.pop_front();
        for (size_t e = 0; e < edges.size(); ++e)
            if (edges[e].from == n && !seen[size_t(edges[e].to)]) {
                seen[size_t(edges[e].to)] = true;
                via[size_t(edges[e].to)] = int(e);
                queue.push_back(edges[e].to);
            }
    }
    std::vector<int> path;
    for (int n = to; n != from && via[size_t(n)] >= 0; n = edges[size_t(via[size_t(n)])].from)
        path.push_back(via[size_t(n)]);
    return seen[size_t(to)] ? path : std::vector<int>{};
}

void GraphView::setPairs(const std::vector<core::Group>& accepted,
                         const std::vector<core::Group>& suggested,
                         const std::vector<core::Rejection>& rejected) {
    accepted_ = accepted;
    suggested_ = suggested;
    rejected_ = rejected;
    if (layout_ && layout_->valid()) drawOverlays();
}

void GraphView::drawOverlays() {
    for (auto* item : overlays_) {
        scene_->removeItem(item);
        delete item;
    }
    overlays_.clear();
    highlighted_ = 0;
    const auto& graph = *model_->graph;
    auto overlay = [&](const std::string& a, const std::string& b, const QPen& pen, double z,
                       const QString& tip) {
        const int from = graph.find(a), to = graph.find(b);
        if (from < 0 || to < 0 || from == to) return;
        QPainterPath path;
        for (int e : pathEdges(from, to)) path.addPath(layout_->edges[size_t(e)]);
        if (path.isEmpty()) return;
        auto* item = scene_->addPath(path, pen);
        item->setZValue(z);
        item->setToolTip(tip);
        overlays_.push_back(item);
        ++highlighted_;
    };
    for (const auto& r : rejected_) {
        if (r.layers.size() != 2) continue;
        QPen pen(kRejected, 2.2, Qt::DashLine);
        overlay(r.layers[0], r.layers[1], pen, 1,
                QStringLiteral("%1 → %2: %3")
                    .arg(QString::fromStdString(r.layers[0]), QString::fromStdString(r.layers[1]),
                         QString::fromStdString(r.reason)));
    }
    for (const auto* groups : {&suggested_, &accepted_}) {
        const bool accepted = groups == &accepted_;
        QPen pen(accepted ? kAccepted : kSuggested, 4, accepted ? Qt::SolidLine : Qt::DashLine);
        pen.setCapStyle(Qt::RoundCap);
        for (const auto& g : *groups)
            for (size_t i = 0; i + 1 < g.size(); ++i)
                overlay(g[i], g[i + 1], pen, 1.5,
                        (accepted ? tr("Pair %1 → %2") : tr("Suggested pair %1 → %2"))
                            .arg(QString::fromStdString(g[i]), QString::fromStdString(g[i + 1])));
    }
}

void GraphView::setQuantization(const core::QuantizationReport* report) {
    gains_.clear();
    if (report)
        for (const auto& l : report->layers) gains_[l.name] = QuantizationPlot::gain(l);
    if (layout_ && layout_->valid()) colourNodes();
}

void GraphView::colourNodes() {
    const auto& graph = *model_->graph;
    for (size_t i = 0; i < nodeItems_.size(); ++i) {
        const auto& node = graph.nodes[i];
        QColor fill = nodeFill(node);
        QStringList changes;
        double worst = 0;
        bool any = false;
        for (const auto& w : node.weighted) {
            auto it = gains_.find(w);
            if (it == gains_.end()) continue;
            worst = any ? std::min(worst, it->second) : it->second;
            any = true;
            changes << tr("%1: INT8 per tensor %2%3 dB")
                           .arg(QString::fromStdString(w),
                                it->second >= 0 ? QStringLiteral("+") : QString())
                           .arg(it->second, 0, 'f', 1);
        }
        if (any) fill = gainFill(worst);
        nodeItems_[i]->setBrush(fill);
        QString tip = nodeItems_[i]->toolTip().section(QStringLiteral("<br><i>"), 0, 0);
        if (any)
            tip += QStringLiteral("<br><i>") + changes.join(QStringLiteral("<br>")) +
                   QStringLiteral("</i>");
        nodeItems_[i]->setToolTip(tip);
    }
}

QString GraphView::nodeLayer(int node) const {
    const auto& n = model_->graph->nodes[size_t(node)];
    return QString::fromStdString(n.weighted.empty() ? n.name : n.weighted.front());
}

void GraphView::onSelectionChanged() {
    if (selecting_) return;
    const auto items = scene_->selectedItems();
    if (items.isEmpty()) return;
    emit layerSelected(nodeLayer(items.front()->data(kNodeRole).toInt()));
}

void GraphView::selectLayer(const QString& layer) {
    if (!model_ || !model_->graph || !ensureLayout()) return;
    const int node = model_->graph->find(layer.toStdString());
    if (node < 0) return;
    selecting_ = true;
    scene_->clearSelection();
    nodeItems_[size_t(node)]->setSelected(true);
    selecting_ = false;
    view_->centerOn(nodeItems_[size_t(node)]);
}

bool GraphView::find(const QString& text) {
    if (text.isEmpty() || !ensureLayout()) return false;
    const auto& nodes = model_->graph->nodes;
    for (size_t i = 0; i < nodes.size(); ++i) {
        if (!QString::fromStdString(nodes[i].name).contains(text, Qt::CaseInsensitive)) continue;
        scene_->clearSelection();
        nodeItems_[i]->setSelected(true);  // a found layer is selected everywhere
        view_->centerOn(nodeItems_[i]);
        if (view_->transform().m11() < 0.8) view_->setTransform(QTransform::fromScale(1, 1));
        view_->centerOn(nodeItems_[i]);
        return true;
    }
    return false;
}

void GraphView::fit() {
    if (!layout_ || !layout_->valid()) return;
    view_->fitInView(scene_->sceneRect(), Qt::KeepAspectRatio);
    // A tall graph fitted whole is unreadable: never below a scale where names are legible.
    if (view_->transform().m11() < kLegibleScale) {
        view_->setTransform(QTransform::fromScale(kLegibleScale, kLegibleScale));
        view_->centerOn(scene_->sceneRect().center().x(), scene_->sceneRect().top());
    }
}

bool GraphView::exportImage(const QString& path) {
    if (!ensureLayout()) return false;
    const QRectF source = scene_->sceneRect();
    scene_->clearSelection();
    if (QFileInfo(path).suffix().compare(QStringLiteral("svg"), Qt::CaseInsensitive) == 0) {
        QSvgGenerator svg;
        svg.setFileName(path);
        svg.setSize(source.size().toSize());
        svg.setViewBox(QRectF(QPointF(0, 0), source.size()));
        svg.setTitle(QFileInfo(model_->path).fileName());
        QPainter painter;
        if (!painter.begin(&svg)) return false;
        scene_->render(&painter, QRectF(QPointF(0, 0), source.size()), source);
        return painter.end();
    }
    QImage image((source.size() * 1.5).toSize(), QImage::Format_ARGB32);
    image.fill(Qt::white);
    QPainter painter(&image);
    painter.setRenderHints(QPainter::Antialiasing | QPainter::TextAntialiasing);
    scene_->render(&painter, QRectF(image.rect()), source);
    painter.end();
    return image.save(path);
}

void GraphView::promptExport() {
    if (!layout_ || !layout_->valid()) return;
    QString path = Prompter::instance().saveFileName(this, tr("Export Graph"),
                                                     tr("PNG image (*.png);;SVG image (*.svg)"),
                                                     QStringLiteral("graph.png"));
    if (path.isEmpty()) return;
    if (QFileInfo(path).suffix().isEmpty()) path += QStringLiteral(".png");
    if (!exportImage(path))
        Prompter::instance().error(this, tr("Export graph"), tr("Could not write %1.").arg(path));
}

QStringList GraphView::rejectedTips() const {
    QStringList tips;
    for (auto* item : overlays_)
        if (item->pen().color() == kRejected) tips << item->toolTip();
    return tips;
}

QColor GraphView::nodeColor(const QString& layer) const {
    if (!model_ || !model_->graph || nodeItems_.empty()) return {};
    const int node = model_->graph->find(layer.toStdString());
    return node < 0 ? QColor() : nodeItems_[size_t(node)]->brush().color();
}

QColor GraphView::nodeOutline(const QString& layer) const {
    if (!model_ || !model_->graph || nodeItems_.empty()) return {};
    const int node = model_->graph->find(layer.toStdString());
    return node < 0 ? QColor() : nodeItems_[size_t(node)]->pen().color();
}

QString GraphView::selectedLayer() const {
    const auto items = scene_->selectedItems();
    return items.isEmpty() ? QString() : nodeLayer(items.front()->data(kNodeRole).toInt());
}

QString GraphView::placeholderText() const {
    return placeholder_->isVisible() ? placeholder_->text() : QString();
}

void GraphView::showEvent(QShowEvent* event) {
    QWidget::showEvent(event);
    ensureLayout();
}

bool GraphView::eventFilter(QObject* watched, QEvent* event) {
    if (watched == view_->viewport() && event->type() == QEvent::Wheel) {
        const auto* wheel = static_cast<QWheelEvent*>(event);
        const double factor = std::pow(1.0015, wheel->angleDelta().y());
        const double scale = view_->transform().m11() * factor;
        if (scale > 0.05 && scale < 8) view_->scale(factor, factor);
        return true;
    }
    return QWidget::eventFilter(watched, event);
}

}  // namespace cle::ui
