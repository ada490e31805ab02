#include "ui/graph_layout.h"

#include <memory>
#include <mutex>
#include <string>

#include <graphviz/cgraph.h>
#include <graphviz/gvc.h>
#include <QFont>
#include <QFontMetricsF>
#include <QObject>

namespace cle::ui {

namespace {

// Graphviz keeps global state; one layout at a time.
std::mutex& graphvizMutex() {
    static std::mutex m;
    return m;
}

void set(void* object, const char* name, const std::string& value) {
    agsafeset(object, const_cast<char*>(name), const_cast<char*>(value.c_str()),
              const_cast<char*>(""));
}

QPainterPath edgePath(Agedge_t* e, double top) {
    QPainterPath path;
    const splines* spl = ED_spl(e);
    if (!spl) return path;
    for (int i = 0; i < spl->size; ++i) {
        const bezier& bz = spl->list[i];
        if (bz.size < 1) continue;
        auto at = [top](const pointf& p) { return QPointF(p.x, top - p.y); };
        path.moveTo(at(bz.list[0]));
        for (int k = 1; k + 2 < bz.size; k += 3)
            path.cubicTo(at(bz.list[k]), at(bz.list[k + 1]), at(bz.list[k + 2]));
        if (bz.eflag) path.lineTo(at(bz.ep));
    }
    return path;
}

}  // namespace

QString nodeLabel(const core::GraphNode& node) {
    return QString::fromStdString(node.name) + QLatin1Char('\n') + QString::fromStdString(node.cls);
}

GraphLayout layoutGraph(const core::LayerGraph& graph) {
    GraphLayout out;
    if (graph.nodes.empty()) {
        out.error = QObject::tr("The model has no layers to draw.");
        return out;
    }
    const std::lock_guard lock(graphvizMutex());
    const QFontMetricsF metrics{QFont()};
    GVC_t* gvc = gvContext();
    Agraph_t* g = agopen(const_cast<char*>("model"), Agdirected, nullptr);
    set(g, "rankdir", "TB");
    set(g, "nodesep", "0.25");
    set(g, "ranksep", "0.3");
    std::vector<Agnode_t*> nodes;
    for (size_t i = 0; i < graph.nodes.size(); ++i) {
        QByteArray id = QByteArrayLiteral("n") + QByteArray::number(qulonglong(i));
        Agnode_t* n = agnode(g, id.data(), 1);
        double width = 0;
        for (const QString& line : nodeLabel(graph.nodes[i]).split('\n'))
            width = std::max(width, metrics.horizontalAdvance(line));
        // Graphviz sizes are in inches (72 points).
        set(n, "shape", "box");
        set(n, "fixedsize", "true");
        set(n, "width", QByteArray::number((width + 16) / 72.0).toStdString());
        set(n, "height", QByteArray::number((2 * metrics.height() + 8) / 72.0).toStdString());
        nodes.push_back(n);
    }
    std::vector<Agedge_t*> edges;
    for (const auto& e : graph.edges)
        edges.push_back(agedge(g, nodes[size_t(e.from)], nodes[size_t(e.to)], nullptr, 1));
    if (gvLayout(gvc, g, "dot") != 0) {
        out.error = QObject::tr("Graphviz could not lay the graph out.");
    } else {
        const boxf bb = GD_bb(g);
        const double top = bb.UR.y;
        out.bounds = QRectF(bb.LL.x, 0, bb.UR.x - bb.LL.x, bb.UR.y - bb.LL.y);
        for (Agnode_t* n : nodes) {
            const pointf c = ND_coord(n);
            const double w = ND_width(n) * 72, h = ND_height(n) * 72;
            out.nodes.emplace_back(c.x - w / 2, top - c.y - h / 2, w, h);
        }
        for (Agedge_t* e : edges) out.edges.push_back(edgePath(e, top));
        gvFreeLayout(gvc, g);
    }
    agclose(g);
    gvFreeContext(gvc);
    return out;
}

}  // namespace cle::ui
