// What the layers of a Keras graph do to the channels of a pair: which ones a positive
// per-channel scale passes through, which stop a pair and why.
#include "graph/keras_steps.h"

#include <algorithm>
#include <set>

namespace cle::core::keras {

namespace {

std::string quote(const std::string& s) { return "'" + s + "'"; }

// Layers that act on every channel alone and commute with a positive per-channel scale.
bool passingClass(const std::string& cls) {
    static const std::set<std::string> kinds = {"Dropout",
                                                "SpatialDropout1D",
                                                "SpatialDropout2D",
                                                "SpatialDropout3D",
                                                "GaussianDropout",
                                                "GaussianNoise",
                                                "AlphaDropout",
                                                "ActivityRegularization",
                                                "Identity",
                                                "LeakyReLU",
                                                "PReLU"};
    static const char* families[] = {"ZeroPadding",    "Cropping", "MaxPooling", "MaxPool",
                                     "AveragePooling", "AvgPool",  "UpSampling"};
    if (kinds.count(cls)) return true;
    return std::any_of(std::begin(families), std::end(families),
                       [&](const char* f) { return cls.starts_with(f); });
}

// The rank of a layer's output tensor: a convolution's kernel has as many axes; a Dense layer's
// output rank is known only when the batch norm records its input shape (0: unknown).
int outputRank(const LayerInfo& info, const Node& bn) {
    if (info.rank() > 2) return info.rank();
    for (const char* key : {"batch_input_shape", "batch_shape"})
        if (bn.config.contains(key) && bn.config[key].is_array()) return int(bn.config[key].size());
    return 0;
}

bool separableClass(const std::string& cls) { return cls.starts_with("SeparableConv"); }

}  // namespace

bool weightedClass(const std::string& cls) {
    static const std::set<std::string> kinds = {"Dense",
                                                "EinsumDense",
                                                "Embedding",
                                                "LSTM",
                                                "GRU",
                                                "SimpleRNN",
                                                "Bidirectional",
                                                "TimeDistributed",
                                                "MultiHeadAttention",
                                                "LocallyConnected1D",
                                                "LocallyConnected2D"};
    return kinds.count(cls) > 0 || cls.find("Conv") != std::string::npos;
}

Step activationStep(const std::string& act) {
    if (act == "linear" || act == "relu" || act == "leaky_relu" || act.empty()) return Step::Pass;
    if (act == "relu6") return Step::Relu6;
    return Step::Reject;
}

Step classify(const Node& n, std::string& reason) {
    const std::string& c = n.cls;
    if (c == "Activation") {
        auto act = activationOf(n);
        Step s = activationStep(act);
        if (s == Step::Reject)
            reason = "activation " + quote(n.name) + " (" + act + ") is not positively homogeneous";
        return s;
    }
    if (c == "ReLU") {
        const auto& cfg = n.config;
        if (cfg.contains("threshold") && cfg["threshold"].is_number() &&
            cfg["threshold"].get<double>() != 0.0) {
            reason =
                "ReLU " + quote(n.name) + " has a threshold, so it is not positively homogeneous";
            return Step::Reject;
        }
        bool clips = cfg.contains("max_value") && cfg["max_value"].is_number();
        return clips ? Step::Relu6 : Step::Pass;
    }
    if (c == "ReLU6") return Step::Relu6;
    if (c == "BatchNormalization" || c == "SyncBatchNormalization") return Step::BatchNorm;
    if (c.starts_with("GlobalAverage") || c.starts_with("GlobalAvg") || c.starts_with("GlobalMax"))
        return Step::GlobalPool;
    if (passingClass(c)) return Step::Pass;
    if (c == "Flatten" || c == "Reshape" || c == "Permute")
        reason = c + " " + quote(n.name) + " between them mixes the channel axis with other axes";
    else if (c == "ELU" || c == "Softmax" || c == "ThresholdedReLU")
        reason = c + " " + quote(n.name) + " is not positively homogeneous";
    else
        reason = quote(n.name) + " is a layer of kind " + quote(c) +
                 " that the pair finder does not know";
    return Step::Reject;
}

std::optional<std::string> mergeProblem(const Node& n) {
    static const std::set<std::string> merges = {"Subtract", "Multiply", "Average",
                                                 "Maximum",  "Minimum",  "Dot"};
    if (n.cls == "Add")
        return "residual Add " + quote(n.name) + " joins another branch to the path";
    if (n.cls == "Concatenate")
        return "Concatenate " + quote(n.name) + " joins other tensors to the path";
    if (merges.count(n.cls))
        return quote(n.name) + " (" + n.cls + ") combines the path with other tensors";
    if (n.inputs.size() > 1)
        return quote(n.name) + " (" + n.cls + ") takes " + std::to_string(n.inputs.size()) +
               " inputs";
    return std::nullopt;
}

std::optional<std::string> fanOut(const Node& n) {
    if (n.output && !n.consumers.empty())
        return "the output of " + quote(n.name) +
               " is also a model output, which equalizing would change";
    if (n.consumers.size() > 1)
        return "the output of " + quote(n.name) + " is used by " +
               std::to_string(n.consumers.size()) + " layers (branch or fan-out)";
    if (n.calls > 1)
        return quote(n.name) + " is called " + std::to_string(n.calls) + " times (a shared layer)";
    return std::nullopt;
}

// Weighted layer kinds whose channels cannot be scaled one by one, in the words `cle inspect`
// uses for them.
std::optional<std::string> kindProblem(const Node& n, bool asFirst) {
    auto cannot = [&](const std::string& why) {
        return "layer " + quote(n.name) + " cannot be equalized: " + why;
    };
    if (n.cls.size() > 9 && n.cls.ends_with("Transpose")) return cannot("transposed convolution");
    if (long groups = configInt(n, "groups", 1); groups > 1)
        return cannot("grouped convolution (groups=" + std::to_string(groups) + ")");
    long multiplier = configInt(n, "depth_multiplier", 1);
    bool pointwiseSide = asFirst && separableClass(n.cls);
    if (multiplier > 1 && !pointwiseSide)
        return cannot("depth multiplier " + std::to_string(multiplier) +
                      " (only 1 can be equalized)");
    return std::nullopt;
}

// A batch norm is folded only when it normalizes over the layer's channel axis.
std::optional<std::string> axisProblem(const Node& layer, const LayerInfo& info, const Node& bn) {
    const bool channelsFirst = layer.config.value("data_format", std::string()) == "channels_first";
    const int rank = outputRank(info, bn);
    const int channel = channelsFirst ? 1 : rank - 1;
    std::optional<long> axis = batchNormAxis(bn);
    if (axis && rank == 0 && *axis == -1) return std::nullopt;
    if (axis && rank > 0 && (*axis < 0 ? *axis + rank : *axis) == channel) return std::nullopt;
    std::string which = bn.config.contains("axis") ? bn.config["axis"].dump() : "-1";
    if (rank == 0)
        return "batch norm " + quote(bn.name) + " normalizes axis " + which +
               ", which cannot be checked against the channel axis of " + quote(layer.name) +
               " (only -1 can), so it is not folded into it";
    return "batch norm " + quote(bn.name) + " normalizes axis " + which +
           ", not the channel axis (" + std::to_string(channel) + ") of the output of " +
           quote(layer.name) + ", so it cannot be folded into it";
}

// conv -> batch norm -> ReLU -> (pooling, dropout, padding)* -> conv: the DFQ high-bias
// absorption applies.
bool reluAfterBatchNorm(const std::vector<const Node*>& path) {
    auto isRelu = [](const Node& n) {
        if (n.cls == "ReLU")
            return !n.config.contains("threshold") || !n.config["threshold"].is_number() ||
                   n.config["threshold"].get<double>() == 0.0;
        if (n.cls == "ReLU6") return true;
        auto act = n.cls == "Activation" ? activationOf(n) : std::string();
        return act == "relu" || act == "relu6";
    };
    if (path.size() < 2 || !isRelu(*path[1])) return false;
    for (size_t i = 2; i < path.size(); ++i) {
        const std::string& c = path[i]->cls;
        if (c == "Activation" || c.find("ReLU") != std::string::npos || c == "PReLU") return false;
    }
    return true;
}

}  // namespace cle::core::keras
