#pragma once
// A Keras 2 (or 3-style) model built layer by layer in a test and written as a legacy .h5 file.
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "test_util.h"

namespace cle::test {

using json = nlohmann::json;

using Names = std::vector<std::string>;
using Shape = std::vector<std::int64_t>;

inline std::int64_t count(const Shape& s) {
    std::int64_t n = 1;
    for (auto d : s) n *= d;
    return n;
}

// A Keras 2 model built layer by layer, written as a legacy .h5 file: the model_config JSON as a
// root attribute and the weights under model_weights with layer_names / weight_names.
class KerasModel {
public:
    enum class Style { Keras2, Keras3, Sequential, SequentialList };

    KerasModel() { layer("InputLayer", "input", json::object(), Names{}); }

    KerasModel& layer(const std::string& cls, const std::string& name, json config = json::object(),
                      std::optional<Names> inputs = {}) {
        config["name"] = name;
        layers_.push_back({cls, name, config, inputs.value_or(Names{last_}), {}});
        last_ = name;
        return *this;
    }
    KerasModel& conv(const std::string& name, std::int64_t in, std::int64_t out,
                     json config = json::object(), std::optional<Names> inputs = {}) {
        config["filters"] = out;
        if (!config.contains("activation")) config["activation"] = "linear";
        layer("Conv2D", name, config, inputs);
        return weights({{"kernel", {3, 3, in, out}}, {"bias", {out}}});
    }
    KerasModel& dense(const std::string& name, std::int64_t in, std::int64_t out,
                      json config = json::object(), std::optional<Names> inputs = {}) {
        config["units"] = out;
        if (!config.contains("activation")) config["activation"] = "linear";
        layer("Dense", name, config, inputs);
        return weights({{"kernel", {in, out}}, {"bias", {out}}});
    }
    KerasModel& batchNorm(const std::string& name, std::int64_t channels,
                          json config = json::object()) {
        layer("BatchNormalization", name, config);
        std::vector<std::pair<std::string, Shape>> w;
        if (config.value("scale", true)) w.push_back({"gamma", {channels}});
        if (config.value("center", true)) w.push_back({"beta", {channels}});
        w.push_back({"moving_mean", {channels}});
        w.push_back({"moving_variance", {channels}});
        return weights(w);
    }
    KerasModel& activation(const std::string& name, const std::string& fn) {
        return layer("Activation", name, {{"activation", fn}});
    }
    /// Weights of the last layer added, stored as <layer>/<layer>/<name>:0.
    KerasModel& weights(const std::vector<std::pair<std::string, Shape>>& w) {
        layers_.back().weights = w;
        return *this;
    }
    /// Values of one weight of the last layer added, instead of random ones.
    KerasModel& values(const std::string& weight, std::vector<double> v) {
        layers_.back().values[weight] = std::move(v);
        return *this;
    }
    KerasModel& outputs(const Names& names) {
        outputs_ = names;
        return *this;
    }

    json config(Style style) const {
        json layers = json::array();
        for (const auto& l : layers_) {
            json j = {{"class_name", l.cls}, {"config", l.config}};
            if (style == Style::Keras2 || style == Style::Keras3) {
                j["name"] = l.name;
                j["inbound_nodes"] = inbound(l, style);
            }
            layers.push_back(j);
        }
        if (style == Style::SequentialList)
            return {{"class_name", "Sequential"}, {"config", layers}};
        if (style == Style::Sequential)
            return {{"class_name", "Sequential"}, {"config", {{"name", "s"}, {"layers", layers}}}};
        json outs = json::array();
        for (const auto& o : outputs_.empty() ? Names{last_} : outputs_) outs.push_back({o, 0, 0});
        return {{"class_name", style == Style::Keras3 ? "Functional" : "Model"},
                {"config",
                 {{"name", "m"},
                  {"layers", layers},
                  {"input_layers", {{"input", 0, 0}}},
                  {"output_layers", outs}}}};
    }

    void write(const std::string& path, Style style = Style::Keras2) const {
        writeWith(path, config(style).dump());
    }
    void writeWith(const std::string& path, const std::string& modelConfig) const {
        test::H5Writer w(path);
        w.strings("/", "model_config", {modelConfig}, true, true);
        w.group("/model_weights");
        Names names;
        unsigned seed = 1;
        for (const auto& l : layers_) {
            if (l.weights.empty()) continue;
            names.push_back(l.name);
            Names weightNames;
            for (const auto& [wn, shape] : l.weights) {
                std::string full = l.name + "/" + wn + ":0";
                weightNames.push_back(full);
                auto v = test::randomValues(size_t(count(shape)), 1.0, seed++);
                if (wn == "moving_variance")  // a variance is positive
                    for (auto& x : v) x = 0.5 + std::abs(x);
                if (auto it = l.values.find(wn); it != l.values.end()) v = it->second;
                w.dataset("/model_weights/" + l.name + "/" + full, shape, v);
            }
            w.strings("/model_weights/" + l.name, "weight_names", weightNames, false);
        }
        w.strings("/model_weights", "layer_names", names, false);
    }

private:
    struct Layer {
        std::string cls, name;
        json config;
        Names inputs;
        std::vector<std::pair<std::string, Shape>> weights;
        std::map<std::string, std::vector<double>> values;
    };

    static json inbound(const Layer& l, Style style) {
        if (l.inputs.empty()) return json::array();
        json refs = json::array();
        for (const auto& in : l.inputs) {
            if (style == Style::Keras2)
                refs.push_back({in, 0, 0, json::object()});
            else
                refs.push_back(
                    {{"class_name", "__keras_tensor__"},
                     {"config", {{"shape", {nullptr, 8}}, {"keras_history", {in, 0, 0}}}}});
        }
        if (style == Style::Keras2) return json::array({refs});
        json args = refs.size() == 1 ? refs : json::array({refs});
        return json::array({{{"args", args}, {"kwargs", json::object()}}});
    }

    std::vector<Layer> layers_;
    std::string last_;
    Names outputs_;
};

}  // namespace cle::test
