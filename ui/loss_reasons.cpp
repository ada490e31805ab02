#include "ui/loss_reasons.h"

#include <QObject>

#include "cle/core/tensor.h"
#include "ui/plots/quantization_plot.h"

namespace cle::ui {

namespace {

QString q(const std::string& s) { return QString::fromStdString(s); }

QString imbalanceText(double v) {
    return v >= 1000 ? QString::number(v, 'e', 2) : QString::number(v, 'f', 1);
}

// A cause found in one pair holding `layer`, or "".
QString causeIn(const core::PairHistory& p, const std::string& layer,
                const core::ModelInfo& model) {
    if (p.first == layer && !p.deadChannels.empty())
        return QObject::tr(
                   "%n dead output channel(s) of %1 were left unscaled while the others "
                   "were balanced against %2",
                   nullptr, int(p.deadChannels.size()))
            .arg(q(layer), q(p.second));
    if (p.second == layer && !p.constantInputChannels.empty())
        return QObject::tr(
                   "%n constant input channel(s) of %1 were left unscaled while the "
                   "others were balanced against %2",
                   nullptr, int(p.constantInputChannels.size()))
            .arg(q(layer), q(p.first));
    const std::string& other = p.first == layer ? p.second : p.first;
    const core::LayerInfo* info = model.find(other);
    if (!info || !info->depthwise || p.states.empty()) return {};
    // The depthwise layer's channels: its outputs when it comes first, its inputs otherwise.
    const auto& before = p.first == other ? p.states.front().out : p.states.front().in;
    const auto& after = p.first == other ? p.states.back().out : p.states.back().in;
    return QObject::tr(
               "the range imbalance of depthwise layer %1 (%2 → %3) was moved into %4: "
               "equalizing balances the pair's shared channels, and the depthwise "
               "layer's few weights per channel vary most")
        .arg(q(other), imbalanceText(core::rangeImbalance(before)),
             imbalanceText(core::rangeImbalance(after)), q(layer));
}

}  // namespace

std::vector<LossReason> explainLosses(const core::QuantizationReport& report,
                                      const core::Summary& summary, const core::ModelInfo& model) {
    std::vector<LossReason> out;
    for (const auto& l : report.layers) {
        const double gain = QuantizationPlot::gain(l);
        if (!(gain < -0.05) && !l.collapsedByEqualization()) continue;
        LossReason r{l.name, gain, {}, {}};
        bool first = true;
        for (const auto& p : summary.pairs) {
            if (p.first != l.name && p.second != l.name) continue;
            if (first) r.pair = {p.first, p.second};
            first = false;
            if (const QString cause = causeIn(p, l.name, model); !cause.isEmpty()) {
                r.text = cause;
                r.pair = {p.first, p.second};
                break;
            }
        }
        if (!first) out.push_back(std::move(r));
    }
    return out;
}

}  // namespace cle::ui
