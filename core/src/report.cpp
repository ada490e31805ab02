#include "cle/core/report.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "cle/core/error.h"
#include "temp_file.h"

#include <fstream>

namespace cle::core {

std::string reportJson(const ModelInfo& model, const Summary& summary, const Timings& timings) {
    using nlohmann::json;
    json j;
    j["tool"] = "cle-studio " CLE_VERSION;
    j["input"] = model.path;
    j["format"] = toString(model.format);
    j["layout"] = toString(model.layout);
    j["threshold"] = summary.threshold;
    j["sweeps"] = summary.sweeps;
    j["converged"] = summary.converged;
    j["cancelled"] = summary.cancelled;
    j["deltas"] = summary.deltas;
    j["last_delta"] = summary.lastDelta();
    json pairs = json::array(), dead = json::array(), constant = json::array(),
         scales = json::array(), ranges = json::array(), imbalance = json::array();
    for (const auto& p : summary.pairs) {
        pairs.push_back({p.first, p.second});
        dead.push_back(p.deadChannels);
        constant.push_back(p.constantInputChannels);
        scales.push_back(p.scale);
        const auto& before = p.states.front();
        const auto& after = p.states.back();
        ranges.push_back({{"before", {{"out", before.out}, {"in", before.in}}},
                          {"after", {{"out", after.out}, {"in", after.in}}}});
        auto ratio = [](const std::vector<float>& r) {
            double v = rangeImbalance(r);
            return std::isfinite(v) ? json(v) : json(nullptr);
        };
        imbalance.push_back({{"before", ratio(before.out)}, {"after", ratio(after.out)}});
    }
    j["pairs"] = pairs;
    j["dead_channels"] = dead;
    j["constant_input_channels"] = constant;
    j["scales"] = scales;
    j["ranges"] = ranges;
    j["imbalance"] = imbalance;
    j["seconds"] = {{"load", timings.load}, {"equalize", timings.equalize}, {"save", timings.save}};
    return j.dump(2) + "\n";
}

void writeTextFileAtomically(const std::string& path, const std::string& text) {
    TempFile temp(path);
    {
        std::ofstream out(temp.path(), std::ios::binary | std::ios::trunc);
        out << text;
        out.flush();
        if (!out) throw inputError("cannot write '" + path + "'");
    }
    temp.commit();
}

void writeReport(const std::string& path, const ModelInfo& model, const Summary& summary,
                 const Timings& timings) {
    writeTextFileAtomically(path, reportJson(model, summary, timings));
}

}  // namespace cle::core
