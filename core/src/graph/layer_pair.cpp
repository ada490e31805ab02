#include "cle/core/layer_pair.h"

namespace cle::core {

bool actsDepthwise(const LayerInfo& first, const LayerInfo& second) {
    if (second.depthwise) return true;
    // A PyTorch [C, 1, k...] kernel after a layer with C > 1 outputs can only be a depthwise
    // convolution (groups == C): a plain convolution would have C input channels.
    return second.layout == Layout::Torch && second.rank() >= 3 && second.shape[1] == 1 &&
           second.shape[0] > 1 && second.shape[0] == first.outChannels();
}

int pairInAxis(const LayerInfo& first, const LayerInfo& second) {
    return actsDepthwise(first, second) ? second.outAxis() : second.inAxis();
}

std::int64_t pairInChannels(const LayerInfo& first, const LayerInfo& second) {
    return second.shape.at(static_cast<size_t>(pairInAxis(first, second)));
}

std::optional<std::string> pairProblem(const ModelInfo& model, const std::string& first,
                                       const std::string& second) {
    const LayerInfo* a = model.find(first);
    const LayerInfo* b = model.find(second);
    for (auto [l, n] : {std::pair{a, &first}, std::pair{b, &second}}) {
        if (!l) return "unknown layer '" + *n + "' (see 'cle inspect' for the layer names)";
        if (!l->supported) return "layer '" + *n + "' cannot be equalized: " + l->unsupportedReason;
    }
    if (first == second) return "layer '" + first + "' cannot be paired with itself";
    if (a->outChannels() != pairInChannels(*a, *b))
        return "channel mismatch: '" + first + "' has " + std::to_string(a->outChannels()) +
               " output channels but '" + second + "' has " + std::to_string(b->inChannels()) +
               " input channels";
    return std::nullopt;
}

}  // namespace cle::core
