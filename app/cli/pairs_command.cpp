// `cle pairs`: the layer pairs the topology suggests and the candidates it rejects.
#include <optional>
#include <ostream>
#include <sstream>

#include "cle/core/topology.h"
#include "cle/core/weight_file.h"
#include "cli.h"
#include "commands.h"

namespace cle::cli {

namespace {

std::string joined(const std::vector<std::string>& names, const char* sep) {
    std::string s;
    for (size_t i = 0; i < names.size(); ++i) s += (i ? sep : "") + names[i];
    return s;
}

// The options that shaped the suggestion, to repeat in the equalize command.
std::string foldBnText(const PairsArgs& a) {
    std::string s;
    for (const auto& f : a.foldBn) s += " --fold-bn " + f;
    if (a.bnEpsilon) {
        std::ostringstream e;
        e << *a.bnEpsilon;
        s += " --bn-epsilon " + e.str();
    }
    return s;
}

}  // namespace

int pairsCommand(const PairsArgs& a, std::ostream& out) {
    std::optional<core::Layout> layout;
    if (!a.layout.empty()) layout = core::parseLayout(a.layout);
    core::ModelInfo info = core::inspectFile(a.file, layout);
    core::Topology topology = core::Topology::build(info, topologyOptions(a.foldBn, a.bnEpsilon));
    core::PairPlan plan = topology.suggest(a.allowRelu6);
    if (a.json) {
        out << core::planJson(plan) << "\n";
        return kOk;
    }
    out << "file:   " << a.file << "\n"
        << "graph:  "
        << (topology.known()
                ? (info.kerasArchive                   ? "from the archive's config.json"
                   : info.format == core::Format::Onnx ? "the ONNX model's node graph"
                                                       : "from the file's model_config")
            : info.subclassed ? "none: config.json describes a subclassed model, which has no "
                                "layer graph; pairs guessed from layer names and shapes"
                              : "none in the file: pairs guessed from layer names and shapes")
        << "\n\nsuggested chains (" << plan.suggested.size() << "):\n";
    for (const auto& s : plan.suggested)
        out << "  " << joined(s.layers, " -> ") << (s.guessed ? "   [guessed]" : "") << "\n";
    size_t inRegions = 0;
    for (const auto& r : plan.rejected) inRegions += r.reason.ends_with(core::kInRegion);
    out << "\nnot suggested as pairs (" << plan.rejected.size();
    if (inRegions) out << ", " << inRegions << " of them equalized in regions";
    out << "):\n";
    for (const auto& r : plan.rejected)
        out << "  " << joined(r.layers, " -> ") << ": " << r.reason << "\n";
    out << "\nregions (" << plan.regions.size() << "):\n";
    for (const auto& r : plan.regions)
        out << "  " << joined(r.region.sources, ", ") << " => " << joined(r.region.sinks, ", ")
            << " (" << r.region.channels << " channels)\n";
    if (!plan.rejectedRegions.empty()) {
        out << "\nregions not equalized (" << plan.rejectedRegions.size() << "):\n";
        for (const auto& r : plan.rejectedRegions)
            out << "  " << joined(r.region.sources, ", ") << " => " << joined(r.region.sinks, ", ")
                << ": " << r.reason << "\n";
    }
    if (!plan.suggested.empty() || !plan.regions.empty())
        out << "\nEqualize them with: cle equalize " << a.file << " -o OUT --auto"
            << (topology.known() ? "" : " --accept-guesses")
            << (a.allowRelu6 ? " --allow-relu6" : "") << foldBnText(a) << "\n";
    return kOk;
}

}  // namespace cle::cli
