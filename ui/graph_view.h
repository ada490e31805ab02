#pragma once
// The model as a graph (where the file has one): every layer a node laid out top to bottom by
// Graphviz, weighted layers set apart from activations, pools, batch norms, Adds and
// Concatenates; the chains to equalize drawn as highlighted paths (suggestions dashed), the
// rejected candidates as red dashed paths whose tooltip gives the reason, and after a run each
// weighted layer coloured by its INT8 change; the sources and sinks of the region the plots show
// outlined in their colours. Zoom (wheel), pan (drag), fit, find (Ctrl+F) and
// export as PNG or SVG.
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include <QWidget>

#include "cle/core/layer_graph.h"
#include "cle/core/pairs.h"
#include "cle/core/quantization.h"
#include "cle/core/topology.h"
#include "ui/graph_layout.h"
#include "ui/graph_region.h"
#include "ui/loaded_model.h"

class QGraphicsPathItem;
class QGraphicsScene;
class QGraphicsView;
class QLabel;
class QLineEdit;
class QStackedLayout;

namespace cle::ui {

class GraphView : public QWidget {
    Q_OBJECT
public:
    explicit GraphView(QWidget* parent = nullptr);
    /// Disconnects from the scene first: clearing it emits selectionChanged, which must not
    /// reach a half-destroyed view.
    ~GraphView() override;

    /// New model; the layout is made when the view is first shown (or by ensureLayout()).
    void setModel(std::shared_ptr<const LoadedModel> model);
    /// The chains to draw: accepted ones solid, suggestions dashed, rejected candidates red.
    void setPairs(const std::vector<core::Group>& accepted,
                  const std::vector<core::Group>& suggested,
                  const std::vector<core::Rejection>& rejected);
    /// Outlines the nodes of `region`'s sources and sinks (null: none).
    void showRegion(const core::Region* region);
    /// Colours weighted layers by their per-tensor INT8 change (null: plain again).
    void setQuantization(const core::QuantizationReport* report);
    /// Selects and centres the node holding `layer`, without emitting layerSelected.
    void selectLayer(const QString& layer);
    /// Selects and centres the first node whose name contains `text`; false when none.
    bool find(const QString& text);
    /// Fits the whole graph into the view.
    void fit();
    /// PNG or, by suffix, SVG of the whole graph. False when it cannot be written.
    bool exportImage(const QString& path);
    /// Lays the graph out now if it has not been yet. False when there is nothing to draw.
    bool ensureLayout();

    // For tests and the window.
    int nodeCount() const { return int(nodeItems_.size()); }
    int highlightedEdges() const { return highlighted_; }
    /// Tooltips of the rejected candidates drawn ("a → b: reason").
    QStringList rejectedTips() const;
    /// Fill colour of the node holding `layer` (invalid when none).
    QColor nodeColor(const QString& layer) const;
    /// Outline colour of the node holding `layer` (invalid when none).
    QColor nodeOutline(const QString& layer) const;
    QString selectedLayer() const;
    QString placeholderText() const;
    QLineEdit* findEdit() const { return find_; }

signals:
    /// The user clicked a node: its (first) weighted layer, or its name.
    void layerSelected(const QString& layer);

protected:
    void showEvent(QShowEvent* event) override;
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    void buildScene();
    void drawOverlays();
    void colourNodes();
    void onSelectionChanged();
    std::vector<int> pathEdges(int from, int to) const;
    QString nodeLayer(int node) const;
    void promptExport();

    std::shared_ptr<const LoadedModel> model_;
    std::optional<GraphLayout> layout_;
    QGraphicsScene* scene_;
    QGraphicsView* view_;
    QLineEdit* find_;
    QLabel* legend_;
    QLabel* placeholder_;
    QStackedLayout* stack_ = nullptr;
    std::vector<QGraphicsPathItem*> nodeItems_;
    std::vector<QGraphicsPathItem*> edgeItems_;
    std::vector<QGraphicsPathItem*> overlays_;
    std::vector<core::Group> accepted_, suggested_;
    std::vector<core::Rejection> rejected_;
    std::map<std::string, double> gains_;  ///< weighted layer -> per-tensor dB change
    std::optional<core::Region> region_;   ///< the region outlined
    int highlighted_ = 0;
    bool selecting_ = false;
};

/// Fill of a node by its class: weighted layers, activations, pools, merges, batch norms, other.
QColor nodeFill(const core::GraphNode& node);
/// Fill of a weighted layer after a run: green for a gain, red for a loss, by size (6 dB full).
QColor gainFill(double db);

}  // namespace cle::ui
