#include "ui/help_text.h"

#include <QObject>

namespace cle::ui {

QString shortcutsHelp() {
    const std::pair<const char*, const char*> rows[] = {
        {"Ctrl+O", "Open a weight file"},
        {"Ctrl+R", "Run the accepted pairs"},
        {"Esc", "Cancel the run (the loaded weights stay unchanged)"},
        {"Ctrl+E", "Export the equalized weights (also while a field has the focus)"},
        {"Ctrl+F", "Find a layer in the graph view"},
        {"Double-click", "A layer in the table: append it to the chain being built"},
        {"Right-click", "A plot: save it as PNG or PDF, or its data as CSV"},
        {"Ctrl+Q", "Quit (asks first when a result was not exported)"},
    };
    QString html = QStringLiteral("<table cellspacing='4'>");
    for (const auto& [keys, what] : rows)
        html += QStringLiteral("<tr><td><b>%1</b></td><td>%2</td></tr>")
                    .arg(QObject::tr(keys), QObject::tr(what));
    return html + QStringLiteral("</table>");
}

QString plotsHelp() {
    return QObject::tr(
        "<p><b>Channel ranges</b> (Equalization tab): for the selected pair, the range (max − "
        "min) of each output channel of the first layer and of each input channel of the second, "
        "before the run (thin dashed) and after sweep k (thick). Equalization makes the two "
        "curves meet: channels with a small range grow, large ones shrink. Move the slider to "
        "see any sweep; hover a point for its value and scale factor.</p>"
        "<p><b>Scale factors</b>: the cumulative factor s of each channel. The first layer's "
        "output channel is divided by s and the second layer's input channel multiplied by it; "
        "1 means unchanged.</p>"
        "<p><b>Convergence</b>: the change of the weights in each sweep (log scale) against the "
        "threshold (dashed). A run converges when the curve drops below it; a flat curve above "
        "it means the float32 sweep has stalled and only a higher threshold helps.</p>"
        "<p><b>Quantization</b>: the INT8 signal-to-quantization-noise ratio of each equalized "
        "layer before and after, in dB (higher is better; +6 dB is one more bit). Per tensor is "
        "what equalization improves; per channel is the reference a per-channel quantizer "
        "reaches anyway.</p>");
}

}  // namespace cle::ui
