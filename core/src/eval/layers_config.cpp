// The layers without weights: their operation and parameters from the layer's config.
#include <set>

#include "cle/core/error.h"
#include "graph/keras_graph.h"
#include "program.h"

namespace cle::core::eval {

namespace {

using nlohmann::json;

double number(const json& cfg, const std::string& key, double fallback) {
    return cfg.contains(key) && cfg[key].is_number() ? cfg[key].get<double>() : fallback;
}

std::array<long, 4> amounts(const json& cfg, const std::string& key, bool oneD) {
    const json& v = cfg.contains(key) ? cfg[key] : json(1);
    if (v.is_number()) return {0, 0, v.get<long>(), v.get<long>()};
    if (oneD && v.is_array() && v.size() == 2) return {0, 0, v[0].get<long>(), v[1].get<long>()};
    if (v.is_array() && v.size() == 2 && v[0].is_number())
        return {v[0].get<long>(), v[0].get<long>(), v[1].get<long>(), v[1].get<long>()};
    if (v.is_array() && v.size() == 2 && v[0].is_array())
        return {v[0][0].get<long>(), v[0][1].get<long>(), v[1][0].get<long>(), v[1][1].get<long>()};
    throw inputError("config entry '" + key + "' is not a padding or cropping amount");
}

std::vector<std::int64_t> integers(const json& cfg, const std::string& key) {
    std::vector<std::int64_t> out;
    if (cfg.contains(key) && cfg[key].is_array())
        for (const auto& v : cfg[key]) out.push_back(v.is_number() ? v.get<std::int64_t>() : -1);
    return out;
}

bool reluFamily(const keras::Node& n, Op& op, bool relaxed) {
    const json& c = n.config;
    if (n.cls == "ReLU") {
        op.kind = Kind::Relu;
        op.maxValue = relaxed ? -1 : number(c, "max_value", -1);
        op.slope = number(c, "negative_slope", 0);
        op.threshold = number(c, "threshold", 0);
    } else if (n.cls == "LeakyReLU") {
        op.kind = Kind::Relu;
        op.slope = number(c, "alpha", number(c, "negative_slope", 0.3));
    } else if (n.cls == "ELU") {
        op.kind = Kind::Elu;
        op.slope = number(c, "alpha", 1.0);
    } else if (n.cls == "ThresholdedReLU") {
        op.kind = Kind::ThresholdedRelu;
        op.threshold = number(c, "theta", 1.0);
    } else if (n.cls == "Activation") {
        op.kind = Kind::Activation;
        op.activation = keras::activationOf(n);
        if (op.activation == "relu6" && relaxed) op.activation = "relu";
    } else if (n.cls == "Softmax") {
        op.kind = Kind::Softmax;
        op.axis = c.contains("axis") && c["axis"].is_number() ? c["axis"].get<long>() : -1;
    } else {
        return false;
    }
    return true;
}

bool shapeFamily(const keras::Node& n, Op& op) {
    const json& c = n.config;
    const std::string& k = n.cls;
    static const std::set<std::string> merges = {"Add",     "Subtract", "Multiply",
                                                 "Average", "Maximum",  "Minimum"};
    static const std::set<std::string> identities = {
        "Dropout",       "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
        "GaussianNoise", "GaussianDropout",  "AlphaDropout",     "ActivityRegularization"};
    op.oneD = k.find("1D") != std::string::npos;
    if (k == "ZeroPadding1D" || k == "ZeroPadding2D") {
        op.kind = Kind::Pad;
        op.pad = amounts(c, "padding", op.oneD);
    } else if (k == "Cropping1D" || k == "Cropping2D") {
        op.kind = Kind::Crop;
        op.pad = amounts(c, "cropping", op.oneD);
    } else if (merges.count(k)) {
        op.kind = Kind::Merge;
        op.merge = k;
        for (auto& ch : op.merge) ch = char(std::tolower(static_cast<unsigned char>(ch)));
    } else if (k == "Concatenate") {
        op.kind = Kind::Concat;
        op.axis = c.contains("axis") && c["axis"].is_number() ? c["axis"].get<long>() : -1;
    } else if (k == "Flatten") {
        op.kind = Kind::Flatten;
    } else if (k == "Reshape") {
        op.kind = Kind::Reshape;
        op.dims = integers(c, "target_shape");
    } else if (k == "Permute") {
        op.kind = Kind::Permute;
        op.dims = integers(c, "dims");
    } else if (identities.count(k)) {
        op.kind = Kind::Identity;
    } else {
        return false;
    }
    return true;
}

bool spatialFamily(const keras::Node& n, Op& op) {
    const json& c = n.config;
    const std::string& k = n.cls;
    if (k == "MaxPooling1D" || k == "MaxPooling2D") {
        op.kind = Kind::MaxPool;
    } else if (k == "AveragePooling1D" || k == "AveragePooling2D") {
        op.kind = Kind::AvgPool;
    } else if (k == "GlobalAveragePooling1D" || k == "GlobalAveragePooling2D" ||
               k == "GlobalMaxPooling1D" || k == "GlobalMaxPooling2D") {
        op.kind = k.find("Max") != std::string::npos ? Kind::GlobalMax : Kind::GlobalAvg;
        op.keepDims = c.value("keepdims", false);
    } else if (k == "UpSampling2D") {
        op.kind = Kind::UpSample;
        op.dims = integers(c, "size");
        if (c.contains("size") && c["size"].is_number())
            op.dims = {c["size"].get<std::int64_t>(), c["size"].get<std::int64_t>()};
        if (op.dims.empty()) op.dims = {2, 2};
        std::string interpolation = c.value("interpolation", std::string("nearest"));
        if (interpolation != "nearest" && interpolation != "bilinear")
            throw inputError("UpSampling2D '" + n.name + "' uses " + interpolation +
                             " interpolation, which cannot be evaluated");
        op.bilinear = interpolation == "bilinear";
    } else if (k == "Rescaling") {
        op.kind = Kind::Rescale;
        op.scale = {float(number(c, "scale", 1.0))};
        op.shift = {float(number(c, "offset", 0.0))};
    } else {
        return false;
    }
    return true;
}

}  // namespace

bool simpleLayer(const keras::Node& n, Op& op, bool relaxed) {
    return reluFamily(n, op, relaxed) || shapeFamily(n, op) || spatialFamily(n, op);
}

}  // namespace cle::core::eval
