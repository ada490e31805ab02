#include "cle/core/model.h"

#include "cle/core/error.h"
#include "dtype_io.h"
#include "h5.h"

namespace cle::core {

const Layer* Model::find(const std::string& name) const {
    for (const auto& l : layers)
        if (l.info.name == name) return &l;
    return nullptr;
}

Layer* Model::find(const std::string& name) {
    for (auto& l : layers)
        if (l.info.name == name) return &l;
    return nullptr;
}

Model loadModel(const std::string& path, std::optional<Layout> layout) {
    Model model;
    model.info = inspectFile(path, layout);
    h5::Silence quiet;
    h5::Handle file = h5::openExisting(path, false);
    model.layers.reserve(model.info.layers.size());
    for (const auto& info : model.info.layers) {
        Layer layer;
        layer.info = info;
        // Layers that can never be equalized (integer weights) are listed without their data.
        if (info.supported) {
            layer.weight = io::readTensor(file.get(), info.weightPath, path);
            if (info.hasBias()) layer.bias = io::readTensor(file.get(), info.biasPath, path);
        } else {
            layer.weight.shape = info.shape;
        }
        model.layers.push_back(std::move(layer));
    }
    if (fileIdentity(path) != model.info.identity)
        throw inputError("'" + path + "' changed while it was being read");
    return model;
}

void applyLayers(Model& model, const std::vector<Layer>& changed) {
    for (const auto& c : changed) {
        Layer* target = model.find(c.info.name);
        if (!target) throw inputError("layer '" + c.info.name + "' is not in the model");
        target->weight = c.weight;
        target->bias = c.bias;
    }
}

}  // namespace cle::core
