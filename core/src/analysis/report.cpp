#include "cle/core/report.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "cle/core/error.h"
#include "support/json_text.h"
#include "support/temp_file.h"

#include <fstream>

namespace cle::core {

namespace {

nlohmann::json decibels(double v) {
    return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

nlohmann::json statsJson(const SqnrStats& s) {
    return {{"median", decibels(s.median)},
            {"worst", decibels(s.worst)},
            {"weighted_mean", decibels(s.weightedMean)}};
}

nlohmann::json quantizationJson(const QuantizationReport& q) {
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& l : q.layers)
        layers.push_back(
            {{"layer", l.name},
             {"parameters", l.parameters},
             {"per_tensor",
              {{"before", decibels(l.perTensorBefore)}, {"after", decibels(l.perTensorAfter)}}},
             {"per_channel",
              {{"before", decibels(l.perChannelBefore)}, {"after", decibels(l.perChannelAfter)}}},
             {"zero_fraction_before", l.zeroFractionBefore},
             {"zero_fraction_after", l.zeroFractionAfter},
             {"zeroed_channels_before", l.zeroedChannelsBefore},
             {"zeroed_channels_after", l.zeroedChannelsAfter},
             {"collapsed_before", l.collapsedBefore},
             {"collapsed_after", l.collapsedAfter}});
    return {
        {"scheme",
         "symmetric int8, scale max|W|/127, round half to even; SQNR in dB; a layer "
         "is collapsed when more than half its non-zero weights round to zero "
         "per tensor, and counts as 0 dB in the per-tensor summary"},
        {"layers", layers},
        {"summary",
         {{"collapsed_layers", q.collapsedLayers},
          {"per_tensor",
           {{"before", statsJson(q.perTensorBefore)}, {"after", statsJson(q.perTensorAfter)}}},
          {"per_channel",
           {{"before", statsJson(q.perChannelBefore)}, {"after", statsJson(q.perChannelAfter)}}}}}};
}

nlohmann::json planJsonPart(const RunPlan& plan) {
    nlohmann::json bns = nlohmann::json::array(), skipped = nlohmann::json::array();
    for (const auto& b : plan.batchNorms)
        bns.push_back({{"batch_norm", b.name}, {"into", b.after}, {"epsilon", b.epsilon}});
    for (const auto& r : plan.skipped)
        skipped.push_back({{"layers", r.layers}, {"reason", r.reason}});
    return {{"folded_batch_norms", bns},
            {"relu6_to_relu", plan.relu6},
            {"skipped_pairs", skipped},
            {"notes", plan.notes},
            {"guessed", plan.guessed}};
}

nlohmann::json relu6CostJson(const std::vector<Relu6Cost>& costs) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& c : costs) {
        if (!c.known()) {
            out.push_back({{"layer", c.layer}, {"batch_norm", nullptr}});
            continue;
        }
        out.push_back({{"layer", c.layer},
                       {"batch_norm", c.batchNorm},
                       {"mean_fraction_above_6", c.mean},
                       {"worst_fraction_above_6", c.worst},
                       {"worst_channel", c.worstChannel},
                       {"level", c.level}});
    }
    return out;
}

// Per region: its layers, factors per region channel, ranges before and after (sources' largest
// output range and sinks' largest input range per region channel).
nlohmann::json regionsJson(const std::vector<RegionHistory>& regions) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : regions) {
        const auto& before = r.states.front();
        const auto& after = r.states.back();
        auto ratio = [](const std::vector<float>& v) {
            double x = rangeImbalance(v);
            return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr);
        };
        out.push_back({{"sources", r.region.sources},
                       {"sinks", r.region.sinks},
                       {"channels", r.region.channels},
                       {"scales", r.scale},
                       {"ranges",
                        {{"before", {{"out", before.out}, {"in", before.in}}},
                         {"after", {{"out", after.out}, {"in", after.in}}}}},
                       {"imbalance", {{"before", ratio(before.out)}, {"after", ratio(after.out)}}},
                       {"dead_channels", r.deadChannels},
                       {"constant_input_channels", r.constantInputChannels}});
    }
    return out;
}

}  // namespace

std::string reportJson(const ModelInfo& model, const Summary& summary, const Timings& timings,
                       const ReportExtras& extras) {
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
         amplified = json::array(), scales = json::array(), ranges = json::array(),
         imbalance = json::array();
    for (const auto& p : summary.pairs) {
        pairs.push_back({p.first, p.second});
        dead.push_back(p.deadChannels);
        constant.push_back(p.constantInputChannels);
        json channels = json::array();
        for (const auto& a : p.amplifiedBias)
            channels.push_back({{"channel", a.channel},
                                {"amplification", a.amplification},
                                {"bias_before", a.biasBefore},
                                {"bias_after", a.biasAfter}});
        amplified.push_back(channels);
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
    j["amplified_bias_channels"] = amplified;
    j["bias_amplification_limit"] = kBiasAmplificationLimit;
    j["scales"] = scales;
    j["ranges"] = ranges;
    j["imbalance"] = imbalance;
    j["regions"] = regionsJson(summary.regions);
    if (extras.plan) {
        auto p = planJsonPart(*extras.plan);
        for (auto& [k, v] : p.items()) j[k] = v;
    }
    if (extras.absorbedBias) {
        json absorbed = json::array();
        for (const auto& r : *extras.absorbedBias) {
            json e = {{"first", r.first}, {"second", r.second}};
            if (!r.skipped.empty())
                e["skipped"] = r.skipped;
            else
                e.update(
                    {{"channels", r.channels}, {"largest", r.largest}, {"absorbed", r.absorbed}});
            absorbed.push_back(e);
        }
        j["absorbed_bias"] = absorbed;
    }
    if (extras.relu6Costs) j["relu6_cost"] = relu6CostJson(*extras.relu6Costs);
    if (extras.quantization) j["quantization"] = quantizationJson(*extras.quantization);
    if (extras.verification)
        j["verification"] = nlohmann::json::parse(verificationJson(*extras.verification));
    j["seconds"] = {{"load", timings.load},
                    {"equalize", timings.equalize},
                    {"save", timings.save},
                    {"quantization", timings.quantization}};
    return json_text::dump(j, 2) + "\n";
}

void writeReport(const std::string& path, const ModelInfo& model, const Summary& summary,
                 const Timings& timings, const ReportExtras& extras) {
    writeTextFileAtomically(path, reportJson(model, summary, timings, extras));
}

}  // namespace cle::core
